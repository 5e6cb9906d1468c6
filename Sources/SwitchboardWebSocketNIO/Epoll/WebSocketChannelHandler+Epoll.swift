#if os(Linux)
import NIOCore

/// What an ``EpollSocket`` tells its handler: the same facts a NIO pipeline delivers, without one.
extension WebSocketChannelHandler {
    func socketActivated(_ socket: EpollSocket) {
        self.io = .socket(socket)
        self.registry?.add(.socket(socket))
        self.becameActive()
    }

    func socketRead(_ input: inout ByteBuffer) {
        self.readArrived(&input)
    }

    func socketReadComplete() {
        self.readBatchComplete()
    }

    func socketWritabilityChanged() {
        self.writabilityChanged(isWritable: self.io?.isWritable ?? false)
    }

    func socketClosed() {
        self.transportClosed()
    }

    /// Whether the socket may read now; if reading is paused, it waits for ``ConnectionIO/read()``.
    func socketMayRead() -> Bool {
        guard self.pauseReasons.isEmpty else {
            self.readPending = true
            return false
        }
        return true
    }
}
#endif
