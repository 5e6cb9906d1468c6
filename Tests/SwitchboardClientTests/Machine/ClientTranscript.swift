import Foundation
import SwitchboardProtocol
@testable import SwitchboardClient

/// One transcript of Tests/Transcripts/client: the client machine's settings, the random draws it will get,
/// and steps of one input and the outputs it must give, all in a language-neutral JSON form (commands and
/// server messages as on the wire) that switchboard.js replays too.
struct ClientTranscript {
    var name: String
    var settings: ClientProtocolMachine.Settings
    var random: [Double]
    var steps: [(input: ClientProtocolMachine.Input, expected: [Any], inputJSON: Any)]

    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    static var directory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Transcripts/client")
    }

    static func all() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".json") }.sorted()
    }

    init(file: String) throws {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.directory.appendingPathComponent(file)))
        guard let top = object as? [String: Any], let steps = top["steps"] as? [[String: Any]] else {
            throw Malformed(description: "\(file): an object with 'steps'")
        }
        self.name = top["name"] as? String ?? file
        self.random = top["random"] as? [Double] ?? []
        self.settings = try Self.settings(top["settings"] as? [String: Any] ?? [:])
        self.steps = try steps.enumerated().map { index, step in
            guard let input = step["in"] else { throw Malformed(description: "\(file) step \(index + 1): no 'in'") }
            return (try Self.input(input), step["out"] as? [Any] ?? [], input)
        }
    }

    // MARK: - Reading

    private static func settings(_ json: [String: Any]) throws -> ClientProtocolMachine.Settings {
        func ms(_ key: String, _ fallback: Int) -> Duration { .milliseconds(json[key] as? Int ?? fallback) }
        var configuration = RealtimeClientConfiguration(tokenProvider: { nil })
        configuration.reconnect = ReconnectPolicy(baseDelay: ms("baseDelayMs", 500), maxDelay: ms("maxDelayMs", 20_000),
                                                  maxAttempts: json["maxAttempts"] as? Int)
        configuration.sendQueueLimit = json["sendQueueLimit"] as? Int ?? 100
        configuration.heartbeatInterval = ms("heartbeatIntervalMs", 25_000)
        configuration.heartbeatTimeout = ms("heartbeatTimeoutMs", 10_000)
        configuration.requestTimeout = ms("requestTimeoutMs", 10_000)
        configuration.tokenRefreshMargin = ms("tokenRefreshMarginMs", 30_000)
        configuration.clientName = json["clientName"] as? String ?? "transcript"
        // A transcript names its transports; without, WebSockets only (the JavaScript machine's default too).
        configuration.transports = [.webSocket]
        var settings = ClientProtocolMachine.Settings(configuration)
        if let transports = json["transports"] as? [String] {
            settings.transports = try transports.map { name in
                guard let kind = TransportKind(rawValue: name) else { throw Malformed(description: "unknown transport '\(name)'") }
                return kind
            }
        }
        return settings
    }

    private static func input(_ json: Any) throws -> ClientProtocolMachine.Input {
        guard let object = json as? [String: Any], object.count == 1, let (kind, value) = object.first else {
            throw Malformed(description: "an input is an object with one key: \(json)")
        }
        let fields = value as? [String: Any] ?? [:]
        func int(_ key: String) throws -> Int {
            guard let number = fields[key] as? Int else { throw Malformed(description: "\(kind) needs '\(key)'") }
            return number
        }
        func string(_ key: String) throws -> String {
            guard let text = fields[key] as? String else { throw Malformed(description: "\(kind) needs '\(key)'") }
            return text
        }
        func request() throws -> RequestID { RequestID(UInt64(try int("request"))) }
        switch kind {
        case "connect": return .connect
        case "disconnect": return .disconnect
        case "publish":
            let data = try RawJSON(validating: Array(JSONSerialization.data(withJSONObject: fields["data"] ?? NSNull(), options: .fragmentsAllowed)))
            return .publish(try request(), channel: try string("channel"), data: data, key: try string("key"))
        case "subscribe":
            let since = (fields["since"] as? [String: Any]).flatMap { since -> StreamPosition? in
                guard let offset = since["offset"] as? Int, let epoch = since["epoch"] as? String else { return nil }
                return StreamPosition(offset: UInt64(offset), epoch: epoch)
            }
            return .subscribe(try request(), channel: try string("channel"), since: since)
        case "unsubscribe": return .unsubscribe(try request(), channel: try string("channel"))
        case "request":
            var command = fields["command"] as? [String: Any] ?? [:]
            command["id"] = 0
            let decoded = try JSONDecoder().decode(ClientCommand.self, from: JSONSerialization.data(withJSONObject: command))
            return .request(try request(), decoded.body)
        case "opened": return .transportOpened(generation: try int("generation"), token: fields["token"] as? String)
        case "failed":
            return .transportFailed(generation: try int("generation"), reason: try string("reason"), retryAfter: fields["retryAfter"] as? Int)
        case "received":
            let message = try JSONSerialization.data(withJSONObject: fields["message"] ?? [:])
            return .received(generation: try int("generation"), try JSONDecoder().decode(ServerMessage.self, from: message))
        case "closed": return .transportClosed(generation: try int("generation"), code: UInt16(try int("code")), reason: fields["reason"] as? String ?? "")
        case "timer": return .timerFired(try Self.timer(value as? String ?? ""))
        case "refreshToken": return .refreshToken(generation: try int("generation"), fields["token"] as? String)
        default: throw Malformed(description: "unknown input '\(kind)'")
        }
    }

    private static func timer(_ name: String) throws -> ClientTimer {
        switch name {
        case "backoff": return .backoff
        case "heartbeat": return .heartbeat
        case "refresh": return .refresh
        default:
            if name.hasPrefix("reply:"), let id = UInt64(name.dropFirst(6)) { return .reply(id) }
            if name.hasPrefix("resubscribe:") { return .resubscribe(String(name.dropFirst(12))) }
            throw Malformed(description: "unknown timer '\(name)'")
        }
    }

    // MARK: - Writing outputs in the transcripts' form

    static func json(_ output: ClientProtocolMachine.Output) -> Any {
        switch output {
        case .openTransport(let generation, let transport): return ["open": generation, "transport": transport.rawValue]
        case .closeTransport(let generation, let code): return ["close": generation, "code": Int(code.rawValue)]
        case .send(let command):
            let data = try! JSONEncoder().encode(command)
            return ["send": try! JSONSerialization.jsonObject(with: data)]
        case .arm(let timer, let delay): return ["arm": timer.description, "ms": Self.milliseconds(delay)]
        case .cancel(let timer): return ["cancel": timer.description]
        case .fetchRefreshToken(let generation): return ["fetchToken": generation]
        case .state(let state): return ["state": Self.json(state)]
        case .settleConnect(.success): return ["connect": "ok"]
        case .settleConnect(.failure(let error)): return ["connect": Self.json(error)]
        case .settle(let request, .success): return ["settle": Int(request.rawValue), "ok": true]
        case .settle(let request, .failure(let error)): return ["settle": Int(request.rawValue), "error": Self.json(error)]
        case .deliver(let channel, .publication(let publication)):
            return ["deliver": channel, "publication": Self.json(publication.position)]
        case .deliver(let channel, .event(.gap(let last, let resumed))):
            return ["deliver": channel, "gap": ["last": last.map(Self.json) ?? NSNull(), "resumed": Self.json(resumed)]]
        case .deliver(let channel, .event(.recovered(let count))): return ["deliver": channel, "recovered": count]
        case .deliver(let channel, .subscribed(let position)): return ["deliver": channel, "subscribed": Self.json(position)]
        case .deliver(let channel, .event(.undecodable(let position, _))): return ["deliver": channel, "undecodable": Self.json(position)]
        case .deliver(let channel, .finished(let error)): return ["deliver": channel, "finished": error.map(Self.json) ?? NSNull()]
        }
    }

    private static func json(_ state: ConnectionState) -> Any {
        switch state {
        case .connecting: return ["is": "connecting"]
        case .connected(let client, let user): return ["is": "connected", "client": client, "user": user]
        case .reconnecting(let attempt, let delay): return ["is": "reconnecting", "attempt": attempt, "ms": Self.milliseconds(delay)]
        case .disconnected(let reason):
            // The reason's words are for people; the codes are the contract.
            var object: [String: Any] = ["is": "disconnected"]
            if let code = reason.code { object["code"] = Int(code.rawValue) }
            if let error = reason.error { object["error"] = Int(error.rawValue) }
            return object
        }
    }

    private static func json(_ error: RealtimeClientError) -> Any {
        var object: [String: Any] = ["kind": error.kind]
        if let code = error.protocolCode { object["code"] = Int(code.rawValue) }
        return object
    }

    private static func json(_ position: StreamPosition) -> Any { ["offset": Int(position.offset), "epoch": position.epoch] }

    private static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// Sorted keys, so that two JSON values compare as text.
    static func canonical(_ value: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
