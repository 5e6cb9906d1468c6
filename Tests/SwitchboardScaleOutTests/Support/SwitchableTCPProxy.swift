import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The smallest load balancer: a loopback TCP relay to one node, which a test can point at another. A client
/// whose node dies sees its connection end (the relay closes its side when the node's side closes) and
/// reconnects to the same address, reaching whichever node the relay points at by then.
final class SwitchableTCPProxy: Sendable {
    let port: Int
    private let target: NIOLockedValueBox<Int>
    private let listener: any Channel

    private init(port: Int, target: NIOLockedValueBox<Int>, listener: any Channel) {
        self.port = port
        self.target = target
        self.listener = listener
    }

    static func start(forwardingTo targetPort: Int) async throws -> SwitchableTCPProxy {
        let target = NIOLockedValueBox(targetPort)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Nothing is read from the client until its node's side is connected.
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: "127.0.0.1", port: target.withLockedValue { $0 })
                    .flatMap { outbound in
                        outbound.pipeline.addHandler(RelayHandler(partner: inbound)).flatMap {
                            inbound.pipeline.addHandler(RelayHandler(partner: outbound))
                        }.map { inbound.setOption(.autoRead, value: true) }
                    }
                    .flatMapErrorThrowing { error in
                        // The node is gone: the client sees its connection refused, as it would without us.
                        inbound.close(promise: nil)
                        throw error
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return SwitchableTCPProxy(port: listener.localAddress!.port!, target: target, listener: listener)
    }

    var webSocketURL: String { "ws://127.0.0.1:\(self.port)/connection/websocket" }

    /// New connections go to `port` from now on; existing ones stay where they are.
    func point(at port: Int) { self.target.withLockedValue { $0 = port } }

    func close() async { try? await self.listener.close() }
}

/// Writes whatever one side reads to the other, and closes the other when one side ends.
private final class RelayHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let partner: any Channel

    init(partner: any Channel) { self.partner = partner }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.partner.writeAndFlush(self.unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
