import Foundation

/// A command from a client: a JSON object with a `type` and an `id` the reply repeats.
///
/// ```json
/// {"type":"subscribe","id":2,"channel":"chat:lobby","since":{"offset":41,"epoch":"x7Gk"}}
/// ```
public struct ClientCommand: Sendable, Hashable {
    /// Chosen by the client; the reply or error carries it back. Unique among the client's pending commands.
    public var id: UInt64
    public var body: Body

    public init(id: UInt64, _ body: Body) {
        self.id = id
        self.body = body
    }

    public enum Body: Sendable, Hashable {
        /// Authenticate (first command, unless the token came in the URL's `token` query parameter).
        case connect(Connect)
        case subscribe(Subscribe)
        case unsubscribe(Unsubscribe)
        case publish(Publish)
        /// Who is in a channel now.
        case presence(ChannelName)
        case history(History)
        /// Replace an expiring token without reconnecting.
        case refresh(Refresh)
        /// An application-level heartbeat (browsers cannot see WebSocket pings).
        case ping
    }

    public struct Connect: Sendable, Hashable, Codable {
        public var token: String?
        /// The client library's name and version, for logs and metrics.
        public var name: String?
        public var version: String?
        public init(token: String? = nil, name: String? = nil, version: String? = nil) {
            self.token = token
            self.name = name
            self.version = version
        }
    }

    public struct Subscribe: Sendable, Hashable, Codable {
        public var channel: String
        /// Recover from here: the server first sends every publication after this position, then live ones.
        public var since: StreamPosition?
        public init(channel: String, since: StreamPosition? = nil) {
            self.channel = channel
            self.since = since
        }
    }

    public struct Unsubscribe: Sendable, Hashable, Codable {
        public var channel: String
        public init(channel: String) { self.channel = channel }
    }

    public struct Publish: Sendable, Hashable, Codable {
        public var channel: String
        public var data: RawJSON
        /// Makes a retry safe: a publish with a key already used in the channel within the node's window
        /// publishes nothing and answers with the first one's position.
        public var idempotencyKey: String?
        public init(channel: String, data: RawJSON, idempotencyKey: String? = nil) {
            self.channel = channel
            self.data = data
            self.idempotencyKey = idempotencyKey
        }

        /// The longest key accepted (bytes): a UUID is 36.
        public static let maximumIdempotencyKeyLength = 128
    }

    public struct ChannelName: Sendable, Hashable, Codable {
        public var channel: String
        public init(channel: String) { self.channel = channel }
    }

    public struct History: Sendable, Hashable, Codable {
        public var channel: String
        /// Publications after this position (all retained ones when nil).
        public var since: StreamPosition?
        /// At most this many, oldest first.
        public var limit: Int?
        public init(channel: String, since: StreamPosition? = nil, limit: Int? = nil) {
            self.channel = channel
            self.since = since
            self.limit = limit
        }
    }

    public struct Refresh: Sendable, Hashable, Codable {
        public var token: String
        public init(token: String) { self.token = token }
    }

    /// The wire name of each command.
    public var type: String {
        switch self.body {
        case .connect: "connect"
        case .subscribe: "subscribe"
        case .unsubscribe: "unsubscribe"
        case .publish: "publish"
        case .presence: "presence"
        case .history: "history"
        case .refresh: "refresh"
        case .ping: "ping"
        }
    }
}

extension ClientCommand: Codable {
    private enum Key: String, CodingKey {
        case type, id
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        self.id = try container.decode(UInt64.self, forKey: .id)
        let type = try container.decode(String.self, forKey: .type)
        // The body's fields sit beside `type` and `id` in the same object.
        switch type {
        case "connect": self.body = .connect(try Connect(from: decoder))
        case "subscribe": self.body = .subscribe(try Subscribe(from: decoder))
        case "unsubscribe": self.body = .unsubscribe(try Unsubscribe(from: decoder))
        case "publish": self.body = .publish(try Publish(from: decoder))
        case "presence": self.body = .presence(try ChannelName(from: decoder))
        case "history": self.body = .history(try History(from: decoder))
        case "refresh": self.body = .refresh(try Refresh(from: decoder))
        case "ping": self.body = .ping
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown command type '\(type)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(self.type, forKey: .type)
        try container.encode(self.id, forKey: .id)
        switch self.body {
        case .connect(let body): try body.encode(to: encoder)
        case .subscribe(let body): try body.encode(to: encoder)
        case .unsubscribe(let body): try body.encode(to: encoder)
        case .publish(let body): try body.encode(to: encoder)
        case .presence(let body): try body.encode(to: encoder)
        case .history(let body): try body.encode(to: encoder)
        case .refresh(let body): try body.encode(to: encoder)
        case .ping: break
        }
    }
}

/// Why a command could not be read, with what the error reply needs: the command's `id` when it was
/// readable, and the code (``ErrorCode/unknownCommand`` or ``ErrorCode/badRequest``).
public struct CommandDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var id: UInt64?
    public var code: ErrorCode
    public var message: String

    public var description: String { "\(self.code): \(self.message)" }
}

extension ClientCommand {
    private static let knownTypes: Set<String> = ["connect", "subscribe", "unsubscribe", "publish", "presence", "history", "refresh", "ping"]

    /// Reads one command from a text message; a bad one yields the error reply to send, never a crash.
    ///
    /// A publish's `data` is kept as the exact text the client sent when it is strict JSON (see
    /// ``RawJSON/decoder(keepingMember:of:)``), unless `decoder` is given.
    public static func decode(_ json: some Collection<UInt8>, decoder: JSONDecoder? = nil) -> Result<ClientCommand, CommandDecodingError> {
        let data = Data(json)
        let decoder = decoder ?? data.withUnsafeBytes { RawJSON.decoder(keepingMember: "data", of: $0) }
        do {
            return .success(try decoder.decode(ClientCommand.self, from: data))
        } catch {
            // Read what we can of the envelope, so the error reply can name the command.
            let envelope = try? decoder.decode(Envelope.self, from: data)
            let id = envelope?.id
            guard let type = envelope?.type else {
                let what: String
                if envelope != nil {
                    what = "missing 'type'"
                } else if case DecodingError.dataCorrupted = error {
                    what = "invalid command: \(InvalidJSON.reason(data))"
                } else {
                    what = "a command must be a JSON object with a string 'type' and a numeric 'id'"
                }
                return .failure(CommandDecodingError(id: id, code: .badRequest, message: what))
            }
            guard Self.knownTypes.contains(type) else {
                return .failure(CommandDecodingError(id: id, code: .unknownCommand, message: "unknown command type '\(type)'"))
            }
            guard id != nil else {
                return .failure(CommandDecodingError(id: nil, code: .badRequest, message: "'\(type)' needs a numeric 'id'"))
            }
            return .failure(CommandDecodingError(id: id, code: .badRequest, message: "malformed '\(type)': \(Self.describe(error))"))
        }
    }

    /// `type` and `id`, each read on its own: a wrong `id` must not hide a readable `type`.
    private struct Envelope: Decodable {
        var type: String?
        var id: UInt64?

        private enum Key: String, CodingKey { case type, id }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            self.type = try? container.decode(String.self, forKey: .type)
            self.id = try? container.decode(UInt64.self, forKey: .id)
        }
    }

    /// A short, user-facing account of a decoding error: which field, what was wrong.
    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let prefix = path(context)
            return "missing field '\(prefix.isEmpty ? key.stringValue : prefix + "." + key.stringValue)'"
        case .typeMismatch(let type, let context): return "field '\(path(context))' should be \(Self.name(of: type))"
        case .valueNotFound(let type, let context): return "field '\(path(context))' should be \(Self.name(of: type)), not null"
        case .dataCorrupted(let context): return context.debugDescription
        @unknown default: return "\(error)"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is UInt64.Type, is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "a boolean"
        default: "\(type)"
        }
    }
}
