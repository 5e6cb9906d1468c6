/// A message from the server: a reply or error for a command (same `id`), or a push.
///
/// ```json
/// {"type":"reply","id":2,"subscribe":{"epoch":"x7Gk","offset":45,"recovered":true,"publications":[…]}}
/// {"type":"error","id":3,"code":103,"message":"permission denied: user:17"}
/// {"type":"publication","channel":"chat:lobby","offset":46,"epoch":"x7Gk","data":{"text":"hi"}}
/// ```
public enum ServerMessage: Sendable, Hashable {
    case reply(id: UInt64, Reply)
    /// `id` is nil when the command was too malformed to read its id.
    case error(id: UInt64?, ProtocolError)
    case publication(Publication)
    case join(PresenceEvent)
    case leave(PresenceEvent)
    /// The server ended a subscription (the channel's permission was revoked, say).
    case unsubscribed(Unsubscribed)
    /// The server is about to close the connection (also how SSE clients learn why).
    case disconnect(Disconnect)

    /// A command's result, keyed on the wire by the command's type.
    public enum Reply: Sendable, Hashable {
        case connect(ConnectResult)
        case subscribe(SubscribeResult)
        case unsubscribe
        case publish(PublishResult)
        case presence(PresenceResult)
        case history(HistoryResult)
        case refresh(RefreshResult)
        case ping
    }

    public struct ProtocolError: Sendable, Hashable, Codable {
        public var code: ErrorCode
        public var message: String
        public init(code: ErrorCode, message: String) {
            self.code = code
            self.message = message
        }
    }

    public struct ConnectResult: Sendable, Hashable, Codable {
        /// This connection's id.
        public var client: String
        public var user: String
        /// Seconds until the token expires (nil: it does not); refresh before then.
        public var expires: Int?
        /// Seconds between the server's heartbeats; a client that hears nothing for longer should reconnect.
        public var ping: Int?
        public init(client: String, user: String, expires: Int? = nil, ping: Int? = nil) {
            self.client = client
            self.user = user
            self.expires = expires
            self.ping = ping
        }
    }

    public struct SubscribeResult: Sendable, Hashable, Codable {
        /// The channel's stream position now: remember it to recover from later.
        public var epoch: String
        public var offset: UInt64
        /// When the command asked to recover: true if `publications` holds everything missed since then, in
        /// order; false if the position is outside the retained history or its epoch has changed.
        public var recovered: Bool?
        public var publications: [Publication]?
        public init(epoch: String, offset: UInt64, recovered: Bool? = nil, publications: [Publication]? = nil) {
            self.epoch = epoch
            self.offset = offset
            self.recovered = recovered
            self.publications = publications
        }
    }

    public struct PublishResult: Sendable, Hashable, Codable {
        public var offset: UInt64
        public var epoch: String
        public init(offset: UInt64, epoch: String) {
            self.offset = offset
            self.epoch = epoch
        }
    }

    public struct PresenceResult: Sendable, Hashable, Codable {
        /// Every connection in the channel (a user with two tabs appears twice, with two client ids).
        public var clients: [ClientInfo]
        /// `clients.count`, and the number of distinct users among them (anonymous clients count as one).
        public var clientCount: Int
        public var userCount: Int
        public init(clients: [ClientInfo]) {
            self.clients = clients
            self.clientCount = clients.count
            self.userCount = Set(clients.map(\.user)).count
        }
    }

    public struct HistoryResult: Sendable, Hashable, Codable {
        public var epoch: String
        public var offset: UInt64
        public var publications: [Publication]
        public init(epoch: String, offset: UInt64, publications: [Publication]) {
            self.epoch = epoch
            self.offset = offset
            self.publications = publications
        }
    }

    public struct RefreshResult: Sendable, Hashable, Codable {
        public var expires: Int?
        public init(expires: Int? = nil) { self.expires = expires }
    }

    public struct PresenceEvent: Sendable, Hashable, Codable {
        public var channel: String
        public var info: ClientInfo
        public init(channel: String, info: ClientInfo) {
            self.channel = channel
            self.info = info
        }
    }

    public struct Unsubscribed: Sendable, Hashable, Codable {
        public var channel: String
        public var reason: String
        public init(channel: String, reason: String) {
            self.channel = channel
            self.reason = reason
        }
    }

    public struct Disconnect: Sendable, Hashable, Codable {
        public var code: DisconnectCode
        public var reason: String
        /// Whether to reconnect (also implied by the code's range).
        public var reconnect: Bool
        /// Milliseconds to wait before reconnecting (jittered by the server, so a restarting node is not
        /// hit by every client at once).
        public var delay: Int?
        public init(code: DisconnectCode, reason: String, delay: Int? = nil) {
            self.code = code
            self.reason = reason
            self.reconnect = code.shouldReconnect
            self.delay = delay
        }
    }
}

extension ServerMessage: Codable {
    private enum Key: String, CodingKey {
        case type, id
        case connect, subscribe, unsubscribe, publish, presence, history, refresh, ping
    }

    private struct Empty: Codable {}

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "reply":
            let id = try container.decode(UInt64.self, forKey: .id)
            let reply: Reply
            if container.contains(.connect) { reply = .connect(try container.decode(ConnectResult.self, forKey: .connect)) }
            else if container.contains(.subscribe) { reply = .subscribe(try container.decode(SubscribeResult.self, forKey: .subscribe)) }
            else if container.contains(.unsubscribe) { reply = .unsubscribe }
            else if container.contains(.publish) { reply = .publish(try container.decode(PublishResult.self, forKey: .publish)) }
            else if container.contains(.presence) { reply = .presence(try container.decode(PresenceResult.self, forKey: .presence)) }
            else if container.contains(.history) { reply = .history(try container.decode(HistoryResult.self, forKey: .history)) }
            else if container.contains(.refresh) { reply = .refresh(try container.decode(RefreshResult.self, forKey: .refresh)) }
            else if container.contains(.ping) { reply = .ping }
            else { throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "reply without a result") }
            self = .reply(id: id, reply)
        case "error":
            self = .error(id: try container.decodeIfPresent(UInt64.self, forKey: .id), try ProtocolError(from: decoder))
        case "publication": self = .publication(try Publication(from: decoder))
        case "join": self = .join(try PresenceEvent(from: decoder))
        case "leave": self = .leave(try PresenceEvent(from: decoder))
        case "unsubscribed": self = .unsubscribed(try Unsubscribed(from: decoder))
        case "disconnect": self = .disconnect(try Disconnect(from: decoder))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown message type '\(type)'")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        switch self {
        case .reply(let id, let reply):
            try container.encode("reply", forKey: .type)
            try container.encode(id, forKey: .id)
            switch reply {
            case .connect(let result): try container.encode(result, forKey: .connect)
            case .subscribe(let result): try container.encode(result, forKey: .subscribe)
            case .unsubscribe: try container.encode(Empty(), forKey: .unsubscribe)
            case .publish(let result): try container.encode(result, forKey: .publish)
            case .presence(let result): try container.encode(result, forKey: .presence)
            case .history(let result): try container.encode(result, forKey: .history)
            case .refresh(let result): try container.encode(result, forKey: .refresh)
            case .ping: try container.encode(Empty(), forKey: .ping)
            }
        case .error(let id, let error):
            try container.encode("error", forKey: .type)
            try container.encodeIfPresent(id, forKey: .id)
            try error.encode(to: encoder)
        case .publication(let publication):
            try container.encode("publication", forKey: .type)
            try publication.encode(to: encoder)
        case .join(let event):
            try container.encode("join", forKey: .type)
            try event.encode(to: encoder)
        case .leave(let event):
            try container.encode("leave", forKey: .type)
            try event.encode(to: encoder)
        case .unsubscribed(let event):
            try container.encode("unsubscribed", forKey: .type)
            try event.encode(to: encoder)
        case .disconnect(let event):
            try container.encode("disconnect", forKey: .type)
            try event.encode(to: encoder)
        }
    }
}
