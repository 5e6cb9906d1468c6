import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SwitchboardWebSocketNIO

/// An HTTP/1.1 connection to a node for the SSE transport (`http://`, or `https://` with the system's
/// trust roots), as an async channel of response parts in and request parts out.
typealias NodeHTTPChannel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

/// A complete response: what the ticket request and each command get back.
struct NodeHTTPResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
}

enum NodeHTTPError: Error, CustomStringConvertible {
    /// The TCP (or TLS) connection could not be made, in words (`ConnectFailure`), as the WebSocket
    /// transport says it.
    case cannotConnect(host: String, reason: String)
    case connectionClosed(during: String)
    case bodyTooLarge(limit: Int)

    var description: String {
        switch self {
        case .cannotConnect(let host, let reason): "cannot connect to \(host): \(reason)"
        case .connectionClosed(let what): "the node closed the connection during \(what)"
        case .bodyTooLarge(let limit): "a response body over \(limit) bytes"
        }
    }
}

enum NodeHTTP {
    /// A response body larger than this (a history reply can be large, never this large) ends the link.
    static let maximumBodySize = 64 << 20

    static func connect(to endpoints: NodeEndpoints, timeout: TimeAmount) async throws -> NodeHTTPChannel {
        let sslContext = endpoints.isSecure ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        do {
            return try await Self.open(endpoints, sslContext: sslContext, timeout: timeout)
        } catch {
            throw NodeHTTPError.cannotConnect(host: endpoints.hostHeader, reason: ConnectFailure.reason(error))
        }
    }

    private static func open(_ endpoints: NodeEndpoints, sslContext: NIOSSLContext?, timeout: TimeAmount) async throws -> NodeHTTPChannel {
        let host = endpoints.host
        return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: endpoints.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    if let sslContext {
                        let serverName = host.isIPAddress ? nil : host
                        try pipeline.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: serverName))
                    }
                    try pipeline.addHTTPClientHandlers()
                    return try NodeHTTPChannel(wrappingChannelSynchronously: channel)
                }
            }
    }

    static func request(_ method: HTTPMethod, _ target: String, endpoints: NodeEndpoints, headers extra: [(String, String)] = [],
                        body: ByteBuffer? = nil) -> HTTPRequestHead {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: target)
        head.headers.add(name: "Host", value: endpoints.hostHeader)
        head.headers.add(name: "User-Agent", value: "switchboard-swift")
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        } else if method == .POST {
            head.headers.add(name: "Content-Length", value: "0")
        }
        for (name, value) in extra { head.headers.add(name: name, value: value) }
        return head
    }

    /// Sends one request on `outbound` and reads its whole response from `responses`.
    static func exchange(_ head: HTTPRequestHead, body: ByteBuffer?, outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
                         responses: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator) async throws -> NodeHTTPResponse {
        try await outbound.write(.head(head))
        if let body { try await outbound.write(.body(.byteBuffer(body))) }
        try await outbound.write(.end(nil))
        var response: NodeHTTPResponse?
        while let part = try await responses.next() {
            switch part {
            case .head(let head):
                response = NodeHTTPResponse(status: head.status, headers: head.headers, body: ByteBuffer())
            case .body(var bytes):
                guard (response?.body.readableBytes ?? 0) + bytes.readableBytes <= Self.maximumBodySize else {
                    throw NodeHTTPError.bodyTooLarge(limit: Self.maximumBodySize)
                }
                response?.body.writeBuffer(&bytes)
            case .end:
                if let response { return response }
            }
        }
        throw NodeHTTPError.connectionClosed(during: "\(head.method) \(head.uri)")
    }
}
