#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP proxy on 127.0.0.1 in front of a node, so a test can break connections the way a network does:
/// ``resetAll()`` aborts every proxied connection with a TCP reset, so neither end gets a WebSocket close
/// frame (the client sees 1006) while the node itself keeps running and the proxy keeps accepting.
final class LoopbackTCPProxy: Sendable {
    let port: Int
    private let listener: any Channel
    private let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

    private init(listener: any Channel, port: Int) {
        self.listener = listener
        self.port = port
    }

    /// With `blockingWebSockets`, the proxy answers every WebSocket upgrade request with 403, as networks
    /// that only let plain HTTP through do, and passes everything else on.
    static func start(forwardingTo targetPort: Int, blockingWebSockets: Bool = false) async throws -> LoopbackTCPProxy {
        let proxy = NIOLockedValueBox<LoopbackTCPProxy?>(nil)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in
                // Reads on `inbound` start only once this future completes, so nothing arrives before the
                // relay to the node is in place.
                ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.pipeline.addHandler(Relay(to: inbound, trap: { bytes in proxy.withLockedValue { $0 }?.sprung(by: bytes) ?? false }))
                    }
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        proxy.withLockedValue { $0 }?.track(inbound, outbound)
                        guard blockingWebSockets else { return inbound.pipeline.addHandler(Relay(to: outbound)) }
                        return inbound.pipeline.addHandlers([UpgradeBlocker(), Relay(to: outbound)])
                    }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let started = LoopbackTCPProxy(listener: listener, port: listener.localAddress!.port!)
        proxy.withLockedValue { $0 = started }
        return started
    }

    /// How many connections (client side) the proxy has carried since it started, open or not.
    var connectionCount: Int { self.accepted.withLockedValue { $0 } }
    private let accepted = NIOLockedValueBox(0)

    private func track(_ inbound: any Channel, _ outbound: any Channel) {
        self.accepted.withLockedValue { $0 += 1 }
        self.open.withLockedValue { open in
            for channel in [inbound, outbound] { open[ObjectIdentifier(channel)] = channel }
        }
        for channel in [inbound, outbound] {
            channel.closeFuture.whenComplete { _ in
                _ = self.open.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
            }
        }
    }

    /// Closes both sides of every open connection with SO_LINGER 0, which makes the kernel send RST instead
    /// of FIN: an abort, not a shutdown, and no byte of a close handshake from anyone. Every socket gets the
    /// option before any is closed, since closing one side makes its relay close the other.
    func resetAll() async {
        let channels = self.open.withLockedValue { Array($0.values) }
        for channel in channels {
            try? await (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        for channel in channels {
            try? await channel.close()
        }
    }

    /// Arms a one-shot trap: the first bytes from the node that contain `marker` are not passed on, and
    /// every connection is reset instead. The client loses exactly that answer, as when a network fails
    /// between the node's write and the client's read.
    func resetWhenTheNodeSends(_ marker: String) {
        self.trap.withLockedValue { $0 = Array(marker.utf8) }
    }

    private let trap = NIOLockedValueBox<[UInt8]?>(nil)

    /// Whether `bytes` spring the armed trap (then the connections are reset).
    fileprivate func sprung(by bytes: ByteBuffer) -> Bool {
        let sprung = self.trap.withLockedValue { trap -> Bool in
            guard let marker = trap, bytes.readableBytesView.firstRange(of: marker) != nil else { return false }
            trap = nil
            return true
        }
        if sprung { Task { await self.resetAll() } }
        return sprung
    }

    func stop() async {
        try? await self.listener.close()
        await self.resetAll()
    }
}

/// Copies what one side sends to the other, and takes the other side down with it.
private final class Relay: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let partner: any Channel
    /// True for bytes that must not be passed on.
    private let trap: @Sendable (ByteBuffer) -> Bool

    init(to partner: any Channel, trap: @escaping @Sendable (ByteBuffer) -> Bool = { _ in false }) {
        self.partner = partner
        self.trap = trap
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        guard !self.trap(bytes) else { return }
        self.partner.writeAndFlush(bytes, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Refuses WebSocket upgrades: a request asking for one gets 403 and the connection closes.
private final class UpgradeBlocker: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = self.unwrapInboundIn(data)
        guard String(decoding: bytes.readableBytesView, as: UTF8.self).lowercased().contains("upgrade: websocket") else {
            return context.fireChannelRead(data)
        }
        let refusal = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        // A few bytes on loopback: the kernel takes them at once, before the close.
        context.writeAndFlush(NIOAny(ByteBuffer(string: refusal)), promise: nil)
        context.close(promise: nil)
    }
}
