import NIOCore

/// Where a connection's handler reads and writes: a NIO channel, through the handler's pipeline context,
/// or an epoll socket (``EpollEventLoopGroup``). The handler's protocol logic is the same over both.
enum ConnectionIO {
    case channel(ChannelHandlerContext)
    #if os(Linux)
    case socket(EpollSocket)
    #endif

    var allocator: ByteBufferAllocator {
        switch self {
        case .channel(let context): context.channel.allocator
        #if os(Linux)
        case .socket: ByteBufferAllocator()
        #endif
        }
    }

    /// False while what waits to be written is above the high-water mark.
    var isWritable: Bool {
        switch self {
        case .channel(let context): context.channel.isWritable
        #if os(Linux)
        case .socket(let socket): socket.isWritable
        #endif
        }
    }

    /// Bytes written but not yet taken by the kernel.
    var bufferedBytes: Int {
        switch self {
        case .channel(let context): (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        #if os(Linux)
        case .socket(let socket): socket.bufferedBytes
        #endif
        }
    }

    /// Whether bytes from the peer wait unread in the kernel. Known on epoll sockets; a NIO channel does not
    /// say, so false there.
    var hasUnreadInput: Bool {
        switch self {
        case .channel: false
        #if os(Linux)
        case .socket(let socket): socket.hasUnreadInput
        #endif
        }
    }

    var remoteAddress: SocketAddress? {
        switch self {
        case .channel(let context): context.channel.remoteAddress
        #if os(Linux)
        case .socket(let socket): socket.remoteAddress
        #endif
        }
    }

    /// How the server's registry knows this connection.
    var registration: RegisteredConnection {
        switch self {
        case .channel(let context): .channel(context.channel)
        #if os(Linux)
        case .socket(let socket): .socket(socket)
        #endif
        }
    }

    /// Queues `buffer`; it leaves at the next ``flush()``.
    func write(_ buffer: ByteBuffer) {
        switch self {
        case .channel(let context): context.write(NIOAny(buffer), promise: nil)
        #if os(Linux)
        case .socket(let socket): socket.write(buffer)
        #endif
        }
    }

    func flush() {
        switch self {
        case .channel(let context): context.flush()
        #if os(Linux)
        case .socket(let socket): socket.flush()
        #endif
        }
    }

    /// Writes `buffer` after everything queued, and calls `done` on the loop once all of it is out (or
    /// could not be written).
    func writeAndFlush(_ buffer: ByteBuffer, then done: @escaping () -> Void) {
        switch self {
        case .channel(let context):
            context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in done() }
        #if os(Linux)
        case .socket(let socket):
            socket.write(buffer)
            socket.flush(then: done)
        #endif
        }
    }

    func close() {
        switch self {
        case .channel(let context): context.close(promise: nil)
        #if os(Linux)
        case .socket(let socket): socket.close()
        #endif
        }
    }

    /// Asks for more to read, after reading was held (backpressure).
    func read() {
        switch self {
        case .channel(let context): context.read()
        #if os(Linux)
        case .socket(let socket): socket.resumeReading()
        #endif
        }
    }
}
