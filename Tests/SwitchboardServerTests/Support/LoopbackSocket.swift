import NIOCore
import NIOPosix
import SwitchboardTestSupport

/// A raw TCP connection to a node on loopback that hands every read to its owner: what the hand-written test
/// clients (HTTP, SSE, raw WebSocket) stand on, so each only says what it does with the bytes.
struct LoopbackSocket: Sendable {
    let channel: any Channel

    /// - Parameters:
    ///   - receiveBufferSize: shrinks the socket's receive buffer (and so the TCP window), so a client that
    ///     stops reading pushes back on the server after a few kilobytes instead of megabytes.
    ///   - onRead: each read, in order, on the channel's event loop.
    ///   - onEnd: the server closed the connection.
    static func connect(port: Int, receiveBufferSize: Int? = nil,
                        onRead: @escaping @Sendable (inout ByteBuffer) -> Void,
                        onEnd: @escaping @Sendable () -> Void) async throws -> LoopbackSocket {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(TimeAmount(TestPatience.default))
        if let receiveBufferSize {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(receiveBufferSize))
        }
        let channel = try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Forwarder(onRead: onRead, onEnd: onEnd))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return LoopbackSocket(channel: channel)
    }

    func write(_ text: String) async throws {
        try await self.channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Stops reading the socket, like a client that hangs: the kernel buffers fill and the server's writes back up.
    func stopReading() async throws {
        try await self.channel.setOption(.autoRead, value: false).get()
    }

    func resumeReading() async throws {
        try await self.channel.setOption(.autoRead, value: true).get()
        self.channel.read()
    }

    func close() async {
        try? await self.channel.close()
    }

    private final class Forwarder: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let onRead: @Sendable (inout ByteBuffer) -> Void
        let onEnd: @Sendable () -> Void

        init(onRead: @escaping @Sendable (inout ByteBuffer) -> Void, onEnd: @escaping @Sendable () -> Void) {
            self.onRead = onRead
            self.onEnd = onEnd
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = self.unwrapInboundIn(data)
            self.onRead(&bytes)
        }

        func channelInactive(context: ChannelHandlerContext) {
            self.onEnd()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }
}
