#if os(Linux)
import CSwitchboardEpoll
import Glibc
import NIOCore
import NIOPosix

/// The client on an ``EpollEventLoop``: the same handler runs the connection, over an epoll socket instead
/// of a NIO channel (a load generator holding thousands of connections per process pays a fraction of a
/// channel's memory and CPU for each).
extension WebSocketClient {
    static func connect(_ url: WebSocketURL, configuration: WebSocketClientConfiguration, deadline: NIODeadline, on loop: EpollEventLoop,
                        makeHandler: @escaping @Sendable () -> WebSocketChannelHandler, upgraded: EventLoopPromise<Void>) {
        guard !url.isSecure else {
            return upgraded.fail(WebSocketTransportError.unsupported(
                "the epoll transport has no TLS: connect to wss:// URLs from NIO's event loops"))
        }
        Self.addresses(of: url.host, port: url.port, on: loop).flatMap { addresses in
            Self.connect(toFirstOf: addresses[...], from: configuration.localAddress, deadline: deadline, on: loop)
        }.whenComplete { result in
            switch result {
            case .success(let fd):
                let socket = EpollSocket(fd: fd, loop: loop, gate: nil)
                let handler = makeHandler()
                socket.handler = handler
                do {
                    try socket.register()
                } catch {
                    socket.close()
                    return upgraded.fail(WebSocketTransportError.handshakeFailed("cannot watch the connection to \(url.hostHeader): \(error)"))
                }
                handler.socketActivated(socket)
            case .failure(let error):
                // The attempt had what was left of the whole timeout: the error names the timeout the caller set.
                upgraded.fail(WebSocketTransportError.cannotConnect(to: url.hostHeader, error, connectTimeout: configuration.connectTimeout))
            }
        }
    }

    /// Tries each address in turn (IPv6 and IPv4 for `localhost`, say) until one accepts, all within `deadline`.
    private static func connect(toFirstOf addresses: ArraySlice<SocketAddress>, from localAddress: SocketAddress?,
                                deadline: NIODeadline, on loop: EpollEventLoop) -> EventLoopFuture<Int32> {
        let address = addresses.first!
        let local = localAddress.flatMap { $0.protocol == address.protocol ? $0 : nil }
        let attempt = EpollConnector.connect(to: address, from: local, timeout: max(deadline - .now(), .zero), on: loop)
        guard addresses.count > 1 else { return attempt }
        return attempt.flatMapError { error in
            if case ChannelError.connectTimeout = error { return loop.makeFailedFuture(error) }
            return Self.connect(toFirstOf: addresses.dropFirst(), from: localAddress, deadline: deadline, on: loop)
        }
    }

    /// An IP literal at once; a name through `getaddrinfo` on NIO's thread pool, never on the loop.
    private static func addresses(of host: String, port: Int, on loop: EpollEventLoop) -> EventLoopFuture<[SocketAddress]> {
        if let literal = try? SocketAddress(ipAddress: host, port: port) {
            return loop.makeSucceededFuture([literal])
        }
        return NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            try Self.resolve(host, port: port)
        }
    }

    private static func resolve(_ host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            throw WebSocketTransportError.handshakeFailed("cannot resolve the host name \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        while let current = entry {
            if let address = current.pointee.ai_addr, let resolved = try? SocketAddress(UnsafePointer(address)),
               !addresses.contains(resolved) {
                addresses.append(resolved)
            }
            entry = current.pointee.ai_next
        }
        guard !addresses.isEmpty else { throw WebSocketTransportError.handshakeFailed("no address for \(host)") }
        return addresses
    }
}
#endif
