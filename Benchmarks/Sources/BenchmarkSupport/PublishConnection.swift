import NIOCore
import NIOHTTP1
import NIOPosix

/// A publish request on its way: the sender's tag (e.g. a rate step), and when it left.
public struct PendingPublish: Sendable {
    public var tag: Int
    public var sentAt: UInt64
}

/// How a publish request ended.
public enum PublishOutcome: Sendable {
    /// 200, with the publication's offset.
    case published(offset: UInt64)
    case failed(String)
}

/// One keep-alive HTTP/1.1 connection to `POST /api/publish` (or another API path answering with a
/// publication's position), with requests pipelined: the publisher is
/// open-loop, so it does not wait for a response before sending the next request. The server answers a
/// connection's requests in order, so responses match the queue of pending requests.
///
/// Confined to its channel's event loop.
public final class PublishConnection: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = HTTPClientResponsePart
    public typealias OutboundOut = HTTPClientRequestPart

    private let head: HTTPRequestHead
    private let onResponse: (PendingPublish, PublishOutcome) -> Void
    private var context: ChannelHandlerContext?
    private var pending = CircularBuffer<PendingPublish>()
    private var status: HTTPResponseStatus?
    private var body = ByteBuffer()

    public init(host: String, port: Int, apiKey: String, path: String = "/api/publish", onResponse: @escaping (PendingPublish, PublishOutcome) -> Void) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Authorization", value: "apikey \(apiKey)")
        headers.add(name: "Content-Type", value: "application/json")
        self.head = HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)
        self.onResponse = onResponse
    }

    /// Connects on `eventLoop`; the handler is usable once the future succeeds.
    public static func connect(host: String, port: Int, eventLoop: any EventLoop, handler: PublishConnection) -> EventLoopFuture<Void> {
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture(withResultOf: {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                })
            }
            .connect(host: host, port: port)
            .map { _ in }
    }

    public var isOpen: Bool { self.context != nil }
    public var inFlight: Int { self.pending.count }

    /// Queues one request; ``flush()`` sends what was queued.
    public func write(body: ByteBuffer, tag: Int, sentAt: UInt64) {
        guard let context = self.context else {
            return self.onResponse(PendingPublish(tag: tag, sentAt: sentAt), .failed("publish connection closed"))
        }
        var head = self.head
        head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.write(self.wrapOutboundOut(.end(nil)), promise: nil)
        self.pending.append(PendingPublish(tag: tag, sentAt: sentAt))
    }

    public func flush() {
        self.context?.flush()
    }

    // MARK: - ChannelInboundHandler

    public func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            self.status = head.status
            self.body.clear()
        case .body(var part):
            self.body.writeBuffer(&part)
        case .end:
            guard let request = self.pending.popFirst() else {
                // A response nobody asked for: the connection is out of step; stop using it.
                return context.close(promise: nil)
            }
            if self.status == .ok, let offset = Self.offset(inResponse: self.body) {
                self.onResponse(request, .published(offset: offset))
            } else {
                let status = self.status.map { "\($0.code)" } ?? "no status"
                self.onResponse(request, .failed("HTTP \(status): \(String(buffer: self.body).prefix(200))"))
            }
            self.status = nil
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        self.context = nil
        while let request = self.pending.popFirst() {
            self.onResponse(request, .failed("publish connection closed with the request in flight"))
        }
        context.fireChannelInactive()
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private static let offsetKey = Array(#""offset":"#.utf8)

    /// The `"offset":N` of a publish response (`{"epoch":"…","offset":N}`).
    static func offset(inResponse buffer: ByteBuffer) -> UInt64? {
        buffer.withUnsafeReadableBytes { bytes in
            JSONBytes.integer(after: Self.offsetKey, in: bytes, from: 0)?.value
        }
    }
}
