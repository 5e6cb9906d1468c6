import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import SwitchboardProtocol
import SwitchboardTestSupport
@testable import SwitchboardServer

/// One ``ClientSession`` on a `NIOAsyncTestingEventLoop`, with a transport that records what the session
/// sends: its timers (the connect timeout, token expiry and its grace, the rate limit's refill) run on a
/// clock the test moves, so they can be checked on both sides of each deadline on any machine (STYLE.md
/// rule 17). ``advance(by:)`` moves the loop's clock and the token clock (`ServerContext.now`) together.
///
/// Token checks run off the loop and come back to it, so replies to `connect` and `refresh` are awaited
/// with ``reply(to:)`` rather than expected at once.
final class TestSession: Sendable {
    let loop: NIOAsyncTestingEventLoop
    let clock: ManualClock
    let configuration: ServerConfiguration
    /// The sizes of the publish batches the session handed to its broker, in order.
    var publishBatches: [Int] { self.broker.batchSizes.withLockedValue { $0 } }
    private let broker: BatchCountingBroker
    private let session: ClientSession
    private let transport: RecordingTransport
    private let nextID = NIOLockedValueBox<UInt64>(1)

    private init(loop: NIOAsyncTestingEventLoop, clock: ManualClock, configuration: ServerConfiguration,
                 broker: BatchCountingBroker, session: ClientSession, transport: RecordingTransport) {
        self.loop = loop
        self.clock = clock
        self.configuration = configuration
        self.broker = broker
        self.session = session
        self.transport = transport
    }

    /// A session of a node configured like ``TestNode``'s (changed by `configure`), not yet opened.
    static func make(_ configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestSession {
        var configuration = TestNode.baseConfiguration
        configure(&configuration)
        var logger = Logger(label: "test.session")
        logger.logLevel = .critical
        let loop = NIOAsyncTestingEventLoop()
        let clock = ManualClock(Date(timeIntervalSince1970: 1_900_000_000))
        let metrics = ServerMetrics(factory: PrometheusExporter().factory)
        let broker = BatchCountingBroker()
        let context = ServerContext(configuration: configuration, broker: broker,
                                    hub: Hub(eventLoops: [loop], broker: broker, metrics: metrics),
                                    verifier: try TokenVerifier(configuration: configuration.auth), metrics: metrics,
                                    clientAddresses: try ClientAddressResolver(trustedProxies: []), logger: logger, now: clock.now)
        let transport = RecordingTransport()
        let session = try await loop.executeInContext {
            ClientSession(context: context, eventLoop: loop, transport: transport, remoteAddress: "127.0.0.1")
        }
        return TestSession(loop: loop, clock: clock, configuration: configuration, broker: broker, session: session, transport: transport)
    }

    /// A token for `user` minted now by the test clock.
    func token(_ user: String, ttl: Int) async throws -> String {
        try TokenMinter(secret: TestNode.secret).mint(user: user, ttl: ttl, now: self.clock.now())
    }

    /// The connection opened (with the URL's token, if any).
    func open(token: String? = nil) async throws {
        let session = self.session
        try await self.loop.executeInContext { session.opened(credential: token.map(ConnectionCredential.token)) }
    }

    /// The client sends `body`; returns the command's id.
    @discardableResult
    func send(_ body: ClientCommand.Body) async throws -> UInt64 {
        let id = self.nextID.withLockedValue { id in
            defer { id += 1 }
            return id
        }
        let text = ByteBuffer(bytes: try JSONEncoder().encode(ClientCommand(id: id, body)))
        let session = self.session
        try await self.loop.executeInContext { session.received(text) }
        return id
    }

    /// The answer to command `id`, once it has come.
    func reply(to id: UInt64) async throws -> ServerMessage {
        try await poll("reply to command \(id); got \(self.messages)") {
            self.messages.first { message in
                switch message {
                case .reply(id, _), .error(.some(id), _): true
                default: false
                }
            }
        }
    }

    /// The client's commands arrive in one read, as a pipelining client's do; returns their ids.
    func sendTogether(_ bodies: [ClientCommand.Body]) async throws -> [UInt64] {
        let commands = self.nextID.withLockedValue { id in
            bodies.map { body in
                defer { id += 1 }
                return ClientCommand(id: id, body)
            }
        }
        let texts = try commands.map { ByteBuffer(bytes: try JSONEncoder().encode($0)) }
        let session = self.session
        try await self.loop.executeInContext {
            session.holdCommands()
            for text in texts { session.received(text) }
            session.releaseCommands()
        }
        return commands.map(\.id)
    }

    /// Sends `body` and waits for its answer.
    func request(_ body: ClientCommand.Body) async throws -> ServerMessage {
        try await self.reply(to: try await self.send(body))
    }

    /// Moves both clocks by `amount`, running the session's timers that come due.
    func advance(by amount: TimeAmount) async {
        self.clock.advance(by: TimeInterval(amount.nanoseconds) / 1e9)
        await self.loop.advanceTime(by: amount)
    }

    /// Everything the session sent, in order.
    var messages: [ServerMessage] { self.transport.messages }
    /// What the session sent that answers no command (pushes, errors without id).
    var pushes: [ServerMessage] {
        self.messages.filter { message in
            switch message {
            case .reply, .error(_?, _): false
            default: true
            }
        }
    }
    /// Why the session ended the connection, once it has.
    var disconnect: ServerMessage.Disconnect? { self.transport.disconnect }

    func shutdown() async {
        let session = self.session
        try? await self.loop.executeInContext { session.transportClosed() }
        await self.loop.shutdownGracefully()
    }
}

/// A session's transport that keeps what it is given.
final class RecordingTransport: SessionTransport, Sendable {
    private struct State {
        var messages: [ServerMessage] = []
        var disconnect: ServerMessage.Disconnect?
    }

    private let state = NIOLockedValueBox(State())

    var messages: [ServerMessage] { self.state.withLockedValue { $0.messages } }
    var disconnect: ServerMessage.Disconnect? { self.state.withLockedValue { $0.disconnect } }
    var kind: TransportKind { .webSocket }

    func send(_ message: ServerMessage) throws {
        // Through JSON and back, as a client would read it.
        let decoded = try JSONDecoder().decode(ServerMessage.self, from: Data(ServerMessageEncoder.encode(message).readableBytesView))
        self.state.withLockedValue { $0.messages.append(decoded) }
    }

    func sendPush(_ push: EncodedPush) throws {
        let message = try JSONDecoder().decode(ServerMessage.self, from: Data(push.json.readableBytesView))
        self.state.withLockedValue { $0.messages.append(message) }
    }

    func disconnect(_ disconnect: ServerMessage.Disconnect) {
        self.state.withLockedValue { $0.disconnect = disconnect }
    }
}

/// The embedded broker, counting how many publications each batch the session hands it holds.
final class BatchCountingBroker: ForwardingBroker, @unchecked Sendable {
    let batchSizes = NIOLockedValueBox<[Int]>([])

    override func publish(_ data: RawJSON, to channel: String, info: ClientInfo?, history: HistoryRetention) async throws -> Publication {
        self.batchSizes.withLockedValue { $0.append(1) }
        return try await self.memory.publish(data, to: channel, info: info, history: history)
    }

    override func publish(_ requests: [PublishRequest]) async -> [Result<Publication, any Error>] {
        self.batchSizes.withLockedValue { $0.append(requests.count) }
        return await self.memory.publish(requests)
    }
}
