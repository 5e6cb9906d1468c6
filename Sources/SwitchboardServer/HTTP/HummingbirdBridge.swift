import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import SwitchboardWebSocketNIO

/// Serves the plain HTTP connections a `WebSocketServer` hands over with a Hummingbird responder, so the
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
    ///   - logger: for connections that fail.
    public init<Responder: HTTPResponder>(responder: Responder, idleTimeout: TimeAmount = .seconds(60),
                                          serverName: String? = nil, logger: Logger)
    where Responder.Context: InitializableFromSource<ApplicationRequestContextSource> {
        let respond = Self.respond(with: responder, serverName: serverName, dateCache: HTTPDateCache(), logger: logger)
        self.http1 = HTTP1Channel(responder: respond, configuration: HTTP1Channel.Configuration(idleTimeout: idleTimeout))
        self.logger = logger
    }

    /// The hook to give `WebSocketServer` as its `httpHandover`.
    public var handover: WebSocketServer.HTTPHandover {
        { channel in try self.serve(channel) }
    }

    /// Installs the HTTP/1.1 handlers on `channel` and starts answering its requests; returns how to take
    /// them off again for an upgrade on a later request. Must run on the channel's event loop, as the
    /// handover does; the transport then passes the request bytes to these handlers.
    ///
    /// The pipeline is HTTP1Channel's (NIOHTTP1 codec, HTTP types, the idle timeout), built here so that
    /// every handler is known and can leave again, plus the count of unanswered requests.
    public func serve(_ channel: any Channel) throws(HummingbirdBridgeError) -> WebSocketServer.HTTPRelease {
        let counter = HTTPRequestsInFlight()
        let handlers: [any RemovableChannelHandler] = [
            HTTPResponseEncoder(configuration: .init()),
            ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)),
            HTTP1ToHTTPServerCodec(secure: false),
            counter,
            HTTPConnectionStateHandler(idleTimeout: self.http1.configuration.idleTimeout.map { Duration($0) }, logger: self.logger),
        ]
        let asyncChannel: HTTP1Channel.Value
        do {
            try channel.pipeline.syncOperations.addHandlers(handlers)
            asyncChannel = try NIOAsyncChannel(wrappingChannelSynchronously: channel,
                                               configuration: .init(isOutboundHalfClosureEnabled: true))
        } catch {
            throw .pipelineSetupFailed("\(error)")
        }
        let http1 = self.http1
        let logger = self.logger
        // Ends when the connection closes (the peer leaves, the idle timeout, or the server's shutdown). After
        // a release it waits, with nothing to read, until the WebSocket that took the connection closes.
        Task { await http1.handle(value: asyncChannel, logger: logger) }
        return { released in
            counter.whenAllAnswered(on: channel.eventLoop) {
                // The async channel's own handler cannot be removed; it stays last, reading and writing
                // nothing more, and sees the connection's end.
                let pipeline = channel.pipeline.syncOperations
                for handler in handlers { pipeline.removeHandler(handler, promise: nil) }
                released.succeed()
            }
        }
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
