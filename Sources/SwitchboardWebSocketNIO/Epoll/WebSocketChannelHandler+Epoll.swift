#if os(Linux)
import Glibc
import Logging
import NIOCore
import NIOPosix

/// What an ``EpollSocket`` tells its handler beyond the reads, read batches and close it reports as a NIO
/// pipeline does (`readArrived`, `readBatchComplete`, `transportClosed`).
extension WebSocketChannelHandler {
    func socketActivated(_ socket: EpollSocket) {
        self.io = .socket(socket)
        self.registry?.add(.socket(socket))
        self.becameActive()
    }

    func socketWritabilityChanged() {
        self.writabilityChanged(isWritable: self.io?.isWritable ?? false)
    }

    /// Whether the socket may read now; if reading is paused, it waits for ``ConnectionIO/read()``.
    func socketMayRead() -> Bool {
        guard self.pauseReasons.isEmpty else {
            self.readPending = true
            return false
        }
        return true
    }

    /// The first request is plain HTTP, whose handlers need a NIO channel: the descriptor moves to one on
    /// the handover's NIO loops, with a handler of its own that is given every byte received so far, so it
    /// parses the same request and hands it over exactly as on a NIO server (a later request on the
    /// connection that asks for a WebSocket is then served on that NIO channel).
    func moveToNIO(_ socket: EpollSocket, received: ByteBuffer) {
        self.cancelTimers()
        self.phase = .closed
        self.output = ByteBuffer()
        self.registry?.remove(.socket(socket))
        self.io = nil
        let gate = socket.gate
        let fd = socket.detach()
        let settings = self.settings
        guard let group = settings.handoverEventLoopGroup else {
            preconditionFailure("Internal inconsistency: an epoll server without NIO loops for its HTTP handovers")
        }
        ClientBootstrap(group: group)
            // Nothing is read until the bytes already received have gone through: they come first.
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                do {
                    try channel.pipeline.syncOperations.addHandler(WebSocketChannelHandler(server: settings, eventLoop: channel.eventLoop))
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
            .withConnectedSocket(fd)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    // The socket's slot in the server's count is given back when the NIO channel closes.
                    channel.closeFuture.whenComplete { _ in gate?.release() }
                    channel.pipeline.fireChannelRead(received)
                    channel.pipeline.fireChannelReadComplete()
                    channel.setOption(.autoRead, value: true).whenFailure { _ in channel.close(promise: nil) }
                case .failure(let error):
                    // NIO closes a descriptor it was given and could not register.
                    gate?.release()
                    settings.logger.debug("Cannot move an HTTP connection to NIO", metadata: ["error": "\(error)"])
                }
            }
    }
}
#endif
