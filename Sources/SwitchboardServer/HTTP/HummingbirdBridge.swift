import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import SwitchboardWebSocketNIO

/// Serves the plain HTTP connections a ``WebSocketServer`` hands over with a Hummingbird responder, so the
/// whole HTTP surface (health, metrics, the API, SSE, static files) shares the WebSocket port while
/// WebSocket connections keep the transport's lean pipeline.
///
/// ```swift
/// let router = Router()
/// router.get("health") { _, _ in "ok" }
/// let bridge = HummingbirdBridge(responder: router.buildResponder(), logger: logger)
/// let server = WebSocketServer(configuration: configuration, httpHandover: bridge.handover, handler: handler)
/// ```
///
/// Each connection gets Hummingbird's HTTP/1.1 channel (NIOHTTP1 codec, keep-alive, pipelining, idle
/// timeout) and a task that answers its requests the way `Application` does: a context per request, the
/// responder's answer, a 500 for an error the responder did not turn into a response, and a `Date` field.
public struct HummingbirdBridge: Sendable {
    private let http1: HTTP1Channel
    private let logger: Logger

    /// - Parameters:
    ///   - responder: answers each request; `Router(...).buildResponder()` or any responder whose context
    ///     can be made from an `ApplicationRequestContextSource`.
    ///   - idleTimeout: a keep-alive connection with no request in flight for this long is closed, so idle
    ///     browsers do not hold sockets forever.
    ///   - serverName: the `Server` field of every response; nil sends none (it tells attackers little, and
    ///     costs bytes).
    public init<Responder: HTTPResponder>(responder: Responder, idleTimeout: TimeAmount = .seconds(60),
                                          serverName: String? = nil, logger: Logger)
    where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        let respond = Self.respond(with: responder, serverName: serverName, dateCache: HTTPDateCache(), logger: logger)
        self.http1 = HTTP1Channel(responder: respond, configuration: HTTP1Channel.Configuration(idleTimeout: idleTimeout))
        self.logger = logger
    }

    /// The hook to give ``WebSocketServer`` as its `httpHandover`.
    public var handover: WebSocketServer.HTTPHandover {
        { channel in try self.serve(channel) }
    }

    /// Installs Hummingbird's HTTP/1.1 handlers on `channel` and starts answering its requests. Must run
    /// on the channel's event loop, as the handover does; the transport then passes the bytes it already
    /// read to these handlers.
    public func serve(_ channel: any Channel) throws(HummingbirdBridgeError) {
        // HTTP1Channel builds its pipeline synchronously on the event loop, so its future is complete when
        // `setup` returns. The handlers must be in place before this returns: the bytes follow at once.
        var outcome: Result<HTTP1Channel.Value, any Error>?
        self.http1.setup(channel: channel, logger: self.logger).assumeIsolated().whenComplete { outcome = $0 }
        let asyncChannel: HTTP1Channel.Value
        switch outcome {
        case .success(let value)?: asyncChannel = value
        case .failure(let error)?: throw .pipelineSetupFailed("\(error)")
        case nil: throw .pipelineSetupFailed("the handlers were not installed on the event loop at once")
        }
        let http1 = self.http1
        let logger = self.logger
        // Ends when the connection closes (the peer leaves, the idle timeout, or the server's shutdown).
        Task { await http1.handle(value: asyncChannel, logger: logger) }
    }

    /// What Hummingbird's `Application` does for each request, for a responder run outside an
    /// `Application`.
    private static func respond<Responder: HTTPResponder>(
        with responder: Responder, serverName: String?, dateCache: HTTPDateCache, logger: Logger
    ) -> HTTPChannelHandler.Responder where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        { request, responseWriter, channel in
            var requestLogger = logger
            requestLogger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
            // Task-local too, so code deep in a handler can log with the request's id.
            var response = try await withLogger(requestLogger) { logger in
                let context = Responder.Context(source: ApplicationRequestContextSource(channel: channel, logger: logger))
                do {
                    return try await responder.respond(to: request, context: context)
                } catch let error as HTTPParserError {
                    // The request is malformed (its body failed to parse): HTTP1Channel answers 400 and closes.
                    throw error
                } catch {
                    // A router turns the errors it knows (HTTPError and kin) into responses itself; anything
                    // left is ours, and its details stay in the log, not in the response.
                    logger.error("Unanswered error from the HTTP responder", metadata: ["error": "\(error)"])
                    return Response(status: .internalServerError)
                }
            }
            response.headers[.date] = dateCache.current
            if let serverName { response.headers[.server] = serverName }
            do {
                try await responseWriter.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                throw HummingbirdBridgeError.requestMalformedWhileResponding
            }
        }
    }
}
