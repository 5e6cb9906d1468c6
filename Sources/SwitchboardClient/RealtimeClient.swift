import Logging
import SwitchboardProtocol

/// A connection to a Switchboard node that survives network trouble: it reconnects with backoff, refreshes
/// its token, and resumes every subscription where the application left off.
///
/// ```swift
/// struct Chat: Codable, Sendable { var text: String }
///
/// let client = RealtimeClient(url: "wss://rt.example.com/connection/websocket",
///                             configuration: RealtimeClientConfiguration(tokenProvider: { try await api.realtimeToken() }))
/// try await client.connect()
/// let lobby = try await client.subscribe("chat:lobby", as: Chat.self)
/// try await client.publish(Chat(text: "hello"), to: "chat:lobby")
/// for try await message in lobby { print(message.value.text) }
/// ```
///
/// The behaviour, shared with the browser client, is specified in `docs/CLIENTS.md`.
public final class RealtimeClient: Sendable {
    /// The node's WebSocket endpoint, e.g. `ws://127.0.0.1:8000/connection/websocket`.
    public let url: String
    public let configuration: RealtimeClientConfiguration
    let engine: ClientEngine

    public init(url: String, configuration: RealtimeClientConfiguration, logger: Logger = Logger(label: "switchboard.client")) {
        self.url = url
        self.configuration = configuration
        self.engine = ClientEngine(url: url, configuration: configuration, logger: logger)
    }

    deinit {
        let engine = self.engine
        Task { await engine.disconnect() }
    }

    /// The connection's states from now on; each call returns a new sequence that starts with the current state.
    public var states: AsyncStream<ConnectionState> { self.engine.broadcaster.stream() }

    /// The state right now.
    public var state: ConnectionState { self.engine.broadcaster.current }

    /// Connects (or waits for the connection under way) and returns once authenticated.
    ///
    /// Failed attempts are retried per ``RealtimeClientConfiguration/reconnect``; throws
    /// ``RealtimeClientError/disconnected`` when the client stops instead (a refused token, a 4500–4999
    /// disconnect, too many attempts, or ``disconnect()``). Cancelling the calling task ends the wait with
    /// `CancellationError`; the client keeps trying until ``disconnect()``.
    public func connect() async throws {
        try await self.engine.connect()
    }

    /// Closes the connection and stops reconnecting. Publications waiting in the send queue fail with
    /// ``RealtimeClientError/disconnected``; subscriptions stay registered and resume on the next ``connect()``.
    public func disconnect() async {
        await self.engine.disconnect()
    }

    /// Publishes `value` (encoded as JSON) and returns its position in the channel.
    ///
    /// While the client is not connected the call waits in a bounded queue and is sent, in call order, after
    /// the next connect; when the queue is full it throws ``RealtimeClientError/sendQueueFull`` at once, and once the
    /// client has stopped (``ConnectionState/disconnected(_:)`` after a connection) it throws
    /// ``RealtimeClientError/disconnected``. A
    /// publication sent on a connection that is then lost throws ``RealtimeClientError/connectionLost`` (it
    /// may or may not have been published; it is not resent).
    @discardableResult
    public func publish<Value: Encodable>(_ value: Value, to channel: String) async throws -> StreamPosition {
        let data: RawJSON
        do {
            data = try RawJSON(encoding: value)
        } catch {
            throw RealtimeClientError.encodingFailed.with(message: "cannot encode the value for \(channel): \(error)")
        }
        return try await self.engine.publish(data, to: channel)
    }

    /// Subscribes to `channel`, decoding each publication's data as `Value`.
    ///
    /// When connected, returns after the server accepted (and throws its refusal); when not, returns at once
    /// and subscribes on the next connect (a refusal then ends the sequence with the error). After every
    /// reconnect the subscription resumes from the last delivered position: no gaps, no duplicates; when the
    /// server cannot fill a gap, ``Subscription/events`` reports ``SubscriptionEvent/gap(lastDelivered:resumedAt:)``.
    public func subscribe<Value: Decodable & Sendable>(_ channel: String, as type: Value.Type = Value.self) async throws -> Subscription<Value> {
        try await self.engine.subscribe(channel, as: type)
    }

    /// Who is subscribed to `channel` now (needs a connection and a namespace with presence).
    public func presence(of channel: String) async throws -> ServerMessage.PresenceResult {
        let reply = try await self.engine.request(.presence(.init(channel: channel)))
        guard case .presence(let result) = reply else {
            throw RealtimeClientError.serverError.with(message: "the server answered presence with \(reply)")
        }
        return result
    }

    /// The newest `limit` retained publications of `channel` (all retained ones when nil), oldest first.
    public func history<Value: Decodable & Sendable>(of channel: String, limit: Int? = nil,
                                                     as type: Value.Type = Value.self) async throws -> [ReceivedPublication<Value>] {
        let reply = try await self.engine.request(.history(.init(channel: channel, limit: limit)))
        guard case .history(let result) = reply else {
            throw RealtimeClientError.serverError.with(message: "the server answered history with \(reply)")
        }
        return try result.publications.map { publication throws -> ReceivedPublication<Value> in
            do {
                return ReceivedPublication(value: try publication.data.decode(as: Value.self), channel: publication.channel,
                                           offset: publication.offset, epoch: publication.epoch, publisher: publication.info)
            } catch {
                throw RealtimeClientError.decodingFailed.with(message: "\(channel) #\(publication.offset): \(error)")
            }
        }
    }
}
