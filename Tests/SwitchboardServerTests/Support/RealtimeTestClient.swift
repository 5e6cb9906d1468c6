import Foundation
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// A test failure with a sentence saying what was expected and what arrived instead.
struct EndToEndFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A real-time protocol client over a real WebSocket, for end-to-end tests: sends ``ClientCommand``s, and
/// sorts what the server sends into replies (by command id) and pushes (everything else, in arrival order).
///
/// A reader task drains the connection from the moment it opens, so the server never sees a slow consumer
/// and nothing is lost between a command and the wait for its reply. Waits poll the collected state with a
/// deadline: a missing message fails the test with what did arrive instead of hanging it.
final class RealtimeTestClient: Sendable {
    private struct State {
        var all: [ServerMessage] = []
        /// Replies and errors that carry a command id, by that id.
        var replies: [UInt64: ServerMessage] = [:]
        /// Everything else (publications, join/leave, disconnect, errors without id), in order.
        var pushes: [ServerMessage] = []
        var nextPush = 0
        /// Text the server sent that is not a `ServerMessage`: a protocol bug in itself.
        var undecodable: [String] = []
        var nextID: UInt64 = 1
        var closeStatus: WebSocketCloseStatus?
    }

    let connection: WebSocketConnection
    /// How this client's messages are encoded: JSON unless it offered `switchboard.v1.protobuf`.
    let encoding: WireEncoding
    private let state = NIOLockedValueBox(State())
    private let reader = NIOLockedValueBox<Task<Void, Never>?>(nil)

    private init(connection: WebSocketConnection) {
        self.connection = connection
        self.encoding = WireEncoding(negotiated: connection.subprotocol)
    }

    /// Opens a WebSocket to `url` and starts collecting what the server sends. `subprotocols` are offered
    /// as they are (none: the server's default, JSON).
    static func connect(to url: String, origin: String? = nil, subprotocols: [String] = [], compression: Bool = false) async throws -> RealtimeTestClient {
        var configuration = WebSocketClientConfiguration(subprotocols: subprotocols, origin: origin, connectTimeout: TimeAmount(TestPatience.default))
        // Large enough for a recovery reply with thousands of publications; no heartbeat of our own, and
        // compression only when asked, so everything on the wire is what the test sends.
        configuration.connection = WebSocketConfiguration(limits: .echoServer, deflate: compression ? PerMessageDeflateConfiguration() : nil,
                                                          heartbeat: nil, closeTimeout: .seconds(2))
        let connection = try await WebSocketClient.connect(to: url, configuration: configuration)
        let client = RealtimeTestClient(connection: connection)
        client.startReading()
        return client
    }

    private func startReading() {
        let connection = self.connection
        let state = self.state
        let encoding = self.encoding
        let task = Task {
            let decoder = JSONDecoder()
            for await message in connection.inbound {
                let decoded: ServerMessage
                switch (encoding, message.kind) {
                case (.json, .text):
                    let data = Data(message.data.readableBytesView)
                    guard let json = try? decoder.decode(ServerMessage.self, from: data) else {
                        state.withLockedValue { $0.undecodable.append(String(decoding: data, as: UTF8.self)) }
                        continue
                    }
                    decoded = json
                case (.protobuf, .binary):
                    do {
                        decoded = try ServerMessage.decode(protobuf: message.data.readableBytesView)
                    } catch {
                        state.withLockedValue { $0.undecodable.append("binary message of \(message.data.readableBytes) bytes: \(error)") }
                        continue
                    }
                case (.json, .binary), (.protobuf, .text):
                    state.withLockedValue { $0.undecodable.append("a \(message.kind) message of \(message.data.readableBytes) bytes on a \(encoding) connection") }
                    continue
                }
                state.withLockedValue { state in
                    state.all.append(decoded)
                    switch decoded {
                    case .reply(let id, _), .error(let id?, _): state.replies[id] = decoded
                    default: state.pushes.append(decoded)
                    }
                }
            }
            let status = await connection.closeStatus
            state.withLockedValue { $0.closeStatus = status }
        }
        self.reader.withLockedValue { $0 = task }
    }

    // MARK: - Sending

    /// Sends `body` with a fresh id and returns the id.
    @discardableResult
    func send(_ body: ClientCommand.Body) async throws -> UInt64 {
        let id = self.state.withLockedValue { state -> UInt64 in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await self.send(ClientCommand(id: id, body))
        return id
    }

    func send(_ command: ClientCommand) async throws {
        switch self.encoding {
        case .json:
            let json = try JSONEncoder().encode(command)
            try await self.connection.send(.text(String(decoding: json, as: UTF8.self)))
        case .protobuf:
            try await self.connection.send(.binary(command.protobufEncoded()))
        }
    }

    func sendText(_ text: String) async throws {
        try await self.connection.send(.text(text))
    }

    func sendBinary(_ bytes: [UInt8]) async throws {
        try await self.connection.send(.binary(bytes))
    }

    // MARK: - Waiting

    /// The reply or error for command `id`.
    func reply(to id: UInt64, within timeout: Duration = TestPatience.default) async throws -> ServerMessage {
        try await self.poll(within: timeout, waitingFor: "a reply to command \(id)") { $0.replies[id] }
    }

    /// Sends `body` and waits for its reply or error.
    func request(_ body: ClientCommand.Body, within timeout: Duration = TestPatience.default) async throws -> ServerMessage {
        let id = try await self.send(body)
        return try await self.reply(to: id, within: timeout)
    }

    /// Sends `body` and returns its successful reply, failing the test with the error otherwise.
    func expectReply(_ body: ClientCommand.Body, within timeout: Duration = TestPatience.default) async throws -> ServerMessage.Reply {
        switch try await self.request(body, within: timeout) {
        case .reply(_, let reply): return reply
        case let other: throw EndToEndFailure("expected a reply to \(body), got \(other)")
        }
    }

    /// Sends `body` and returns the error code it was refused with, failing the test if it succeeded.
    func expectError(_ body: ClientCommand.Body, within timeout: Duration = TestPatience.default) async throws -> ServerMessage.ProtocolError {
        switch try await self.request(body, within: timeout) {
        case .error(_, let error): return error
        case let other: throw EndToEndFailure("expected an error for \(body), got \(other)")
        }
    }

    func connect(token: String? = nil) async throws -> ServerMessage.ConnectResult {
        guard case .connect(let result) = try await self.expectReply(.connect(.init(token: token))) else {
            throw EndToEndFailure("connect answered with another result")
        }
        return result
    }

    func subscribe(_ channel: String, since: StreamPosition? = nil, within timeout: Duration = TestPatience.default) async throws -> ServerMessage.SubscribeResult {
        let reply = try await self.expectReply(.subscribe(.init(channel: channel, since: since)), within: timeout)
        guard case .subscribe(let result) = reply else { throw EndToEndFailure("subscribe answered with \(reply)") }
        return result
    }

    /// The next push not yet taken, in arrival order.
    func nextPush(within timeout: Duration = TestPatience.default) async throws -> ServerMessage {
        try await self.poll(within: timeout, waitingFor: "a push") { state in
            guard state.nextPush < state.pushes.count else { return nil }
            defer { state.nextPush += 1 }
            return state.pushes[state.nextPush]
        }
    }

    /// Takes pushes until one matches `match`, skipping the others; returns what `match` extracted.
    func nextPush<T>(within timeout: Duration = TestPatience.default, _ what: String, matching match: @escaping (ServerMessage) -> T?) async throws -> T {
        try await self.poll(within: timeout, waitingFor: what) { state in
            while state.nextPush < state.pushes.count {
                let push = state.pushes[state.nextPush]
                state.nextPush += 1
                if let value = match(push) { return value }
            }
            return nil
        }
    }

    /// The next `count` publications of `channel` (other pushes are skipped).
    func publications(_ count: Int, in channel: String, within timeout: Duration = TestPatience.default) async throws -> [Publication] {
        var collected: [Publication] = []
        let deadline = ContinuousClock.now + timeout
        while collected.count < count {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                throw EndToEndFailure("only \(collected.count) of \(count) publications in \(channel) within \(timeout)")
            }
            collected.append(try await self.nextPush(within: remaining, "a publication in \(channel)") { push in
                if case .publication(let publication) = push, publication.channel == channel { return publication }
                return nil
            })
        }
        return collected
    }

    /// Every push received so far, taken or not.
    var receivedPushes: [ServerMessage] { self.state.withLockedValue { $0.pushes } }
    /// Everything received so far, in order.
    var received: [ServerMessage] { self.state.withLockedValue { $0.all } }
    var undecodable: [String] { self.state.withLockedValue { $0.undecodable } }

    /// How the connection ended, once it has (nil if still open after `timeout`).
    func closed(within timeout: Duration = TestPatience.default) async throws -> WebSocketCloseStatus? {
        try? await self.poll(within: timeout, waitingFor: "the close") { $0.closeStatus }
    }

    /// True while the connection is open.
    var isOpen: Bool { self.state.withLockedValue { $0.closeStatus == nil } }

    /// Closes normally and waits until the connection is closed.
    func close() async {
        await self.connection.close()
        _ = await self.reader.withLockedValue { $0 }?.value
    }

    private func poll<T>(within timeout: Duration, waitingFor what: String, _ check: @escaping (inout State) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = self.state.withLockedValue({ check(&$0) }) { return value }
            guard ContinuousClock.now < deadline else {
                let (received, closed) = self.state.withLockedValue { ($0.all.suffix(10), $0.closeStatus) }
                throw EndToEndFailure("no \(what) within \(timeout); last received: \(Array(received)); closed: \(closed.map { "\($0)" } ?? "no")")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
