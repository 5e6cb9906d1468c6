#if os(Linux)
import CSwitchboardEpoll
import Glibc
import Logging
import NIOCore

/// The server on an ``EpollEventLoopGroup``: the same handler runs each connection, over an epoll socket
/// instead of a NIO channel.
extension WebSocketServer {
    func start(on group: EpollEventLoopGroup, settings: ConnectionSettings, gate: OpenSocketGate) async throws {
        let configuration = self.configuration
        guard configuration.tls == nil else {
            throw WebSocketTransportError.unsupported("the epoll transport has no TLS: terminate TLS in front of the server, or run it on NIO's event loops")
        }
        let logger = self.logger
        let loop = group.loops[0]
        let listener = try await loop.submit {
            try EpollListener(host: configuration.host, port: configuration.port, backlog: Int32(clamping: configuration.backlog),
                              reusePort: configuration.reusePort, loop: loop, group: group, logger: logger) { fd, loop in
                Self.accept(fd, on: loop, settings: settings, gate: gate, logger: logger)
            }
        }.get()
        self.epollListener.withLockedValue { $0 = listener }
        logger.info("WebSocket server listening", metadata: ["address": "\(listener.localAddress)", "transport": "epoll"])
    }

    private static func accept(_ fd: Int32, on loop: EpollEventLoop, settings: ConnectionSettings, gate: OpenSocketGate, logger: Logger) {
        guard gate.admitSocket() else {
            // Out of sockets: closing at once keeps the descriptor reserve for the process itself.
            Glibc.close(fd)
            gate.logRefusal(logger)
            return
        }
        try? EpollListener.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        let socket = EpollSocket(fd: fd, loop: loop, gate: gate)
        let handler = WebSocketChannelHandler(server: settings, eventLoop: loop)
        socket.handler = handler
        do {
            try socket.register()
        } catch {
            logger.debug("Cannot watch an accepted connection", metadata: ["error": "\(error)"])
            socket.close()
            return
        }
        handler.socketActivated(socket)
    }
}
#endif
