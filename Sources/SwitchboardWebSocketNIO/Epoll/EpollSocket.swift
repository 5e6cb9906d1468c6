#if os(Linux)
import CSwitchboardEpoll
import Glibc
import NIOCore

/// One TCP connection on an ``EpollEventLoop``: the descriptor, what waits to be written, and the
/// connection's handler. The whole per-connection cost of the epoll transport besides the handler: an
/// idle socket holds no buffer, and writes go straight to the kernel unless it is full.
///
/// Used on its loop only. Writes follow NIO's rules, so the handler works the same over a channel: bytes
/// written leave at the next flush, in order; above a high-water mark of waiting bytes the socket reports
/// itself unwritable until they drain below the low-water mark.
final class EpollSocket: EpollWatcher, @unchecked Sendable {  // used on its loop; others hop there with `execute`
    let fd: Int32
    unowned let loop: EpollEventLoop
    var handler: WebSocketChannelHandler?
    /// Given the socket back when it closes (the server's count of open sockets).
    let gate: OpenSocketGate?

    /// Written and not yet taken by the kernel, from `head` on; the first `flushedEnd` are flushed.
    private var queue: [ByteBuffer] = []
    private var head = 0
    private var flushedEnd = 0
    private(set) var bufferedBytes = 0
    /// Called once everything flushed before them is out (or the socket closed).
    private var drainCallbacks: [() -> Void] = []
    private var interest: UInt32
    private var readingHeld = false
    private(set) var isWritable = true
    private(set) var isClosed = false

    static let highWaterMark = 64 << 10
    static let lowWaterMark = 32 << 10
    /// Reads per readiness report before other sockets get their turn (NIO's `maxMessagesPerRead`).
    static let readsPerTurn = 4

    private static let readEvents = EPOLLIN.rawValue | EPOLLRDHUP.rawValue

    init(fd: Int32, loop: EpollEventLoop, gate: OpenSocketGate?) {
        self.fd = fd
        self.loop = loop
        self.gate = gate
        self.interest = Self.readEvents
    }

    /// Starts watching the descriptor; the handler hears from it from now on.
    func register() throws(IOError) {
        try self.loop.register(self.fd, events: self.interest, watcher: self)
    }

    /// Whether the peer has sent bytes this socket has not read yet (its loop was busy, or reading is held).
    var hasUnreadInput: Bool {
        !self.isClosed && switchboard_unread_bytes(self.fd) > 0
    }

    var remoteAddress: SocketAddress? {
        guard !self.isClosed else { return nil }
        return try? SocketAddress.peer(of: self.fd)
    }

    // MARK: - Writing

    func write(_ buffer: ByteBuffer) {
        guard !self.isClosed, buffer.readableBytes > 0 else { return }
        self.queue.append(buffer)
        self.bufferedBytes += buffer.readableBytes
        if self.isWritable && self.bufferedBytes > Self.highWaterMark {
            self.isWritable = false
            self.handler?.socketWritabilityChanged()
        }
    }

    func flush() {
        guard !self.isClosed else { return }
        self.flushedEnd = self.queue.count
        self.writeFlushed()
    }

    func flush(then done: @escaping () -> Void) {
        guard !self.isClosed else { return done() }
        self.flushedEnd = self.queue.count
        if self.head < self.flushedEnd {
            self.drainCallbacks.append(done)
            self.writeFlushed()
        } else {
            done()
        }
    }

    private func writeFlushed() {
        while self.head < self.flushedEnd {
            let written = self.flushedEnd - self.head == 1 ? self.sendFirst() : self.sendGathered()
            if written < 0 {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: return self.watchWritable(true)
                default: return self.close()
                }
            }
            self.bufferedBytes -= written
            var left = written
            while left > 0 {
                let first = self.queue[self.head].readableBytes
                guard left >= first else {
                    self.queue[self.head].moveReaderIndex(forwardBy: left)
                    break
                }
                left -= first
                self.queue[self.head] = ByteBuffer()
                self.head += 1
            }
        }
        self.wroteAllFlushed()
    }

    private func sendFirst() -> Int {
        self.queue[self.head].withUnsafeReadableBytes { bytes in
            send(self.fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
        }
    }

    /// Several buffers in one call (a frame header and the payload sent without a copy behind it, say): the
    /// kernel packs them into segments together. `sendmsg` rather than `writev`, for `MSG_NOSIGNAL`: a peer
    /// that reset the connection must give EPIPE, not a SIGPIPE that ends a process where no NIO socket has
    /// yet made the process ignore the signal.
    private func sendGathered() -> Int {
        let count = min(self.flushedEnd - self.head, 64)
        return withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { vectors in
            for index in 0..<count {
                // The queue holds each buffer, unchanged, until after the call: its bytes stay where they are.
                self.queue[self.head + index].withUnsafeReadableBytes { bytes in
                    vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
                }
            }
            var message = msghdr()
            message.msg_iov = vectors.baseAddress
            message.msg_iovlen = count
            return sendmsg(self.fd, &message, Int32(MSG_NOSIGNAL))
        }
    }

    private func wroteAllFlushed() {
        if self.head == self.queue.count {
            // Nothing waits: an idle connection keeps no storage for its queue.
            self.queue = []
            self.head = 0
            self.flushedEnd = 0
        }
        self.watchWritable(false)
        if !self.isWritable && self.bufferedBytes < Self.lowWaterMark {
            self.isWritable = true
            self.handler?.socketWritabilityChanged()
        }
        if !self.drainCallbacks.isEmpty {
            let callbacks = self.drainCallbacks
            self.drainCallbacks = []
            for callback in callbacks { callback() }
        }
    }

    private func watchWritable(_ watch: Bool) {
        let wanted = (self.readingHeld ? 0 : Self.readEvents) | (watch ? EPOLLOUT.rawValue : 0)
        guard wanted != self.interest, !self.isClosed else { return }
        self.interest = wanted
        self.loop.modify(self.fd, events: wanted)
    }

    private var waitingForWritable: Bool { self.interest & EPOLLOUT.rawValue != 0 }

    // MARK: - Reading

    func epollReady(_ events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 {
            self.writeFlushed()
        }
        if events & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0, !self.isClosed {
            self.readAvailable(hungUp: events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && events & EPOLLIN.rawValue == 0)
        }
    }

    private func readAvailable(hungUp: Bool) {
        guard let handler = self.handler else { return }
        if hungUp {
            // Nothing left to read and the peer is gone (or the loop is stopping).
            return self.close()
        }
        guard handler.socketMayRead() else {
            self.readingHeld = true
            self.watchWritable(self.waitingForWritable)
            return
        }
        let scratch = self.loop.readScratch
        for _ in 0..<Self.readsPerTurn {
            let count = Glibc.read(self.fd, scratch.baseAddress, scratch.count)
            if count > 0 {
                // Copied out at its exact size: the loop's buffer is reused by the next read of any socket.
                var input = ByteBufferAllocator().buffer(capacity: count)
                input.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[..<count]))
                handler.readArrived(&input)
                if self.isClosed { return }
                if count < scratch.count { break }
            } else if count == 0 {
                return self.close()
            } else {
                switch errno {
                case EINTR: continue
                case EAGAIN, EWOULDBLOCK: break
                default: return self.close()
                }
                break
            }
        }
        handler.readBatchComplete()
    }

    /// Reading resumes after the handler held it (inbound backpressure).
    func resumeReading() {
        guard self.readingHeld else { return }
        self.readingHeld = false
        self.watchWritable(self.waitingForWritable)
    }

    // MARK: - Closing

    /// Stops watching the descriptor and gives it to the caller, open, with its slot in the server's count
    /// of sockets: for a connection whose first request is plain HTTP, which NIO's loops serve.
    func detach() -> Int32 {
        precondition(!self.isClosed && self.head == self.queue.count,
                     "Internal inconsistency: detaching a closed socket or one with bytes to write")
        self.isClosed = true
        self.loop.deregister(self.fd)
        self.handler = nil
        return self.fd
    }

    /// Closes the descriptor at once, dropping what was not written, and tells the handler.
    func close() {
        guard !self.isClosed else { return }
        self.isClosed = true
        self.loop.deregister(self.fd)
        Glibc.close(self.fd)
        self.queue = []
        self.bufferedBytes = 0
        self.gate?.release()
        let callbacks = self.drainCallbacks
        self.drainCallbacks = []
        for callback in callbacks { callback() }
        let handler = self.handler
        self.handler = nil
        handler?.transportClosed()
    }
}

extension SocketAddress {
    /// The address of the peer of a connected socket.
    static func peer(of fd: Int32) throws -> SocketAddress {
        try self.asking(fd, "getpeername") { getpeername($0, $1, $2) }
    }

    /// The address a socket is bound to.
    static func local(of fd: Int32) throws -> SocketAddress {
        try self.asking(fd, "getsockname") { getsockname($0, $1, $2) }
    }

    private static func asking(_ fd: Int32, _ name: String,
                               _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32) throws -> SocketAddress {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { call(fd, $0, &length) }
        }
        guard result == 0 else { throw IOError(errnoCode: errno, reason: name) }
        return try withUnsafePointer(to: &storage) { try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try SocketAddress($0) } }
    }

    /// The address a system call wrote (`getpeername`, `getaddrinfo`), IPv4 or IPv6.
    init(_ address: UnsafePointer<sockaddr>) throws {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            self = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee) }
        case AF_INET6:
            self = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee) }
        default:
            throw IOError(errnoCode: EAFNOSUPPORT, reason: "an address that is neither IPv4 nor IPv6")
        }
    }
}
#endif
