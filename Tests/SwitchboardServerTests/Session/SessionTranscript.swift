import Foundation
import NIOCore
import SwitchboardProtocol
@testable import SwitchboardServer

/// A ``SessionMachine`` driven fact by fact, its actions written as one line each, so a test reads as a
/// transcript: `#expect(t.opened() == ["arm 10 s"])`. A class, so that `#expect` can take its inputs, which
/// change the machine, as they are. Times are inputs: `at` (seconds since the session
/// opened) for the rate limit, `now` for token expiry.
final class SessionTranscript {
    /// Small limits, so each one is reached in a few steps.
    static let limits = SessionLimits(commandsPerSecond: 1, commandBurst: 2, rateLimitStrikes: 3, maxChannelsPerClient: 2,
                                      connectTimeout: 10, tokenRefreshGrace: 25, joiningBufferLimit: 3, publishBatchLimit: 3)
    /// Token time when the session opens.
    static let opening = Date(timeIntervalSince1970: 1_900_000_000)

    var machine: SessionMachine

    init(limits: SessionLimits = SessionTranscript.limits) {
        self.machine = SessionMachine(limits: limits)
    }

    /// A session connected as `user` (token valid for an hour), its first actions checked.
    static func connected(_ user: String = "alice", limits: SessionLimits = SessionTranscript.limits) -> SessionTranscript {
        let transcript = SessionTranscript(limits: limits)
        _ = transcript.opened()
        _ = transcript.authenticated(user)
        return transcript
    }

    func joinRequested(_ channel: String) -> ServerMessage.ProtocolError? { self.machine.joinRequested(channel) }
    func hubRetained(_ channel: String, succeeded: Bool) -> SessionMachine.HubJoin { self.machine.hubRetained(channel, succeeded: succeeded) }
    func historyFailed(_ channel: String) -> Bool { self.machine.historyFailed(channel) }
    func subscriptionEnded(_ channel: String) -> Bool { self.machine.subscriptionEnded(channel) }
    func holdCommands() { self.machine.holdCommands() }
    func binaryArrived(at: Double = 0) -> [String] {
        Self.lines(self.machine.wrongKindArrived(now: Self.nanoseconds(at), explanation: "binary messages are not accepted"))
    }
    func registrationRefused(_ code: DisconnectCode) -> [String] {
        Self.lines(self.machine.registrationRefused(.init(code: code, reason: "test")))
    }

    func deadlineReached() -> [String] { Self.lines(self.machine.deadlineReached()) }
    func commandFinished() -> [String] { Self.lines(self.machine.commandFinished()) }
    func releaseCommands() -> [String] { Self.lines(self.machine.releaseCommands()) }
    func transportClosed() -> [String] { Self.lines(self.machine.close(telling: nil)) }
    func credentialChecked(refusal: DisconnectCode? = nil) -> [String] {
        Self.lines(self.machine.credentialChecked(refusal: refusal.map { .init(code: $0, reason: "test") }))
    }

    func opened(withCredential: Bool = false) -> [String] {
        Self.lines(self.machine.opened(withCredential: withCredential))
    }

    /// Credentials for `user` were verified; `expiresIn` seconds after the session opened.
    func authenticated(_ user: String, expiresIn: TimeInterval? = 3600, now: TimeInterval = 0) -> [String]? {
        self.machine.authenticated(Self.identity(user, expiresIn: expiresIn), now: Self.opening + now).map(Self.lines)
    }

    func refreshed(_ user: String, expiresIn: TimeInterval, now: TimeInterval) -> [String] {
        Self.lines(self.machine.refreshed(Self.identity(user, expiresIn: expiresIn), now: Self.opening + now))
    }

    /// Command `id` arrives on the connection (or, `fromCaller`, through an SSE command request) at `at` s.
    func command(_ id: UInt64, _ body: ClientCommand.Body, at: Double = 0, fromCaller: Bool = false) -> [String] {
        let route: SessionMachine.Route = fromCaller ? .caller({ _ in }) : .transport
        return Self.lines(self.machine.commandArrived(.success(ClientCommand(id: id, body)), route: route, now: Self.nanoseconds(at)))
    }

    /// A text message that is no command arrives.
    func text(_ json: String, at: Double = 0) -> [String] {
        Self.lines(self.machine.commandArrived(ClientCommand.decode(Array(json.utf8)), route: .transport, now: Self.nanoseconds(at)))
    }

    /// Ends the session as ``ClientSession`` carries out `.disconnect`: held commands start, then it closes.
    func disconnect(_ code: DisconnectCode) -> [String] {
        Self.lines(self.machine.releaseCommands() + self.machine.close(telling: .init(code: code, reason: "test")))
    }

    func publication(_ channel: String, _ offset: UInt64, epoch: String = "e1") -> String {
        Self.line(self.machine.publicationArrived(Self.push(channel, offset, epoch: epoch)))
    }

    /// A joining subscription's history read ends; the buffered publications are replayed through
    /// ``SessionMachine/publicationArrived(_:)`` as the driver does, each giving one line.
    func historyRead(_ channel: String, at offset: UInt64, epoch: String = "e1") -> [String]? {
        guard let buffered = self.machine.historyRead(channel, position: StreamPosition(offset: offset, epoch: epoch)) else { return nil }
        return buffered.map { push in
            guard case .publication(let publication) = push.kind else { return "presence" }
            return "\(publication.offset): " + Self.line(self.machine.publicationArrived(push))
        }
    }

    static func push(_ channel: String, _ offset: UInt64, epoch: String = "e1") -> HubPush {
        HubPush(publication: Publication(channel: channel, offset: offset, epoch: epoch, data: .integer(Int64(offset))))
    }

    static func identity(_ user: String, expiresIn: TimeInterval?) -> SessionIdentity {
        let credentials = expiresIn.map { Credentials(user: user, expiresAt: Self.opening + $0) }
        return SessionIdentity(credentials: credentials, info: ClientInfo(user: user, client: "c1"))
    }

    static func nanoseconds(_ seconds: Double) -> UInt64 { UInt64(seconds * 1e9) }

    static func lines(_ actions: [SessionMachine.Action]) -> [String] { actions.map(Self.line) }

    static func line(_ action: SessionMachine.Action) -> String {
        switch action {
        case .armDeadline(let after):
            after.nanoseconds % 1_000_000_000 == 0 ? "arm \(after.nanoseconds / 1_000_000_000) s" : "arm \(after.nanoseconds / 1_000_000) ms"
        case .cancelDeadline: "cancel deadline"
        case .checkCredential: "check credential"
        case .perform(let queued): "perform \(queued.command.id) \(queued.command.type)"
        case .publish(let batch): "publish " + batch.map { String($0.command.id) }.joined(separator: ",")
        case .answer(.transport, let message): "answer " + Self.line(message)
        case .answer(.caller, let message): "answer caller " + Self.line(message)
        case .commandFailed(let code): "failed \(code.rawValue)"
        case .push(let message): "push " + Self.line(message)
        case .register(let identity): "register \(identity.user)"
        case .unregister: "unregister"
        case .leave(let channel, _, let announce): announce ? "leave \(channel)" : "leave \(channel) quietly"
        case .disconnect(let disconnect): "disconnect \(disconnect.code.rawValue)"
        case .closeTransport(let disconnect): "close " + (disconnect.map { String($0.code.rawValue) } ?? "-")
        }
    }

    static func line(_ message: ServerMessage) -> String {
        switch message {
        case .reply(let id, _): "reply \(id)"
        case .error(let id, let error): "error \(id.map(String.init) ?? "-") \(error.code.rawValue)"
        case .unsubscribed(let unsubscribed): "unsubscribed \(unsubscribed.channel)"
        default: "\(message)"
        }
    }

    static func line(_ delivery: SessionMachine.Delivery) -> String {
        switch delivery {
        case .none: "none"
        case .send: "send"
        case .resubscribe: "resubscribe"
        case .disconnect(let disconnect): "disconnect \(disconnect.code.rawValue)"
        }
    }
}
