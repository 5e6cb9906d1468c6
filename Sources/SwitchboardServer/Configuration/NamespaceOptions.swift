/// How the channels of one namespace behave. A channel `chat:lobby` is in namespace `chat`; a channel without
/// a colon is in the default namespace.
public struct NamespaceOptions: Sendable, Hashable, Codable {
    /// Who may subscribe.
    public enum SubscribePolicy: String, Sendable, Hashable, Codable {
        /// Anyone, anonymous clients included.
        case anyone
        /// Any client with a valid token.
        case authenticated
        /// Only a client whose token's `channels` claim lists the channel.
        case token
    }

    /// Who may publish from a client connection (the HTTP API may always publish).
    public enum PublishPolicy: String, Sendable, Hashable, Codable {
        /// Nobody: only back-ends publish, through the HTTP API.
        case nobody
        /// A client subscribed to the channel.
        case subscribers
        /// Any authenticated client allowed to subscribe.
        case authenticated
    }

    public var subscribe: SubscribePolicy
    public var publish: PublishPolicy
    /// `<namespace>:<user>` channels belong to that user: only they may subscribe (notifications).
    public var personal: Bool
    /// Publications retained per channel for recovery and `history`; 0 keeps none.
    public var historySize: Int
    /// Seconds a publication stays in history.
    public var historyTTL: Int
    /// Whether `presence` answers for this namespace.
    public var presence: Bool
    /// Whether subscribers are sent `join` and `leave` events.
    public var joinLeave: Bool

    public init(subscribe: SubscribePolicy = .authenticated, publish: PublishPolicy = .nobody, personal: Bool = false,
                historySize: Int = 100, historyTTL: Int = 7200, presence: Bool = false, joinLeave: Bool = false) {
        self.subscribe = subscribe
        self.publish = publish
        self.personal = personal
        self.historySize = historySize
        self.historyTTL = historyTTL
        self.presence = presence
        self.joinLeave = joinLeave
    }

    private enum Key: String, CodingKey {
        case subscribe, publish, personal, historySize, historyTTL, presence, joinLeave
    }

    /// Every field is optional in a config file; a missing one keeps its default.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let defaults = NamespaceOptions()
        self.subscribe = try container.decodeIfPresent(SubscribePolicy.self, forKey: .subscribe) ?? defaults.subscribe
        self.publish = try container.decodeIfPresent(PublishPolicy.self, forKey: .publish) ?? defaults.publish
        self.personal = try container.decodeIfPresent(Bool.self, forKey: .personal) ?? defaults.personal
        self.historySize = try container.decodeIfPresent(Int.self, forKey: .historySize) ?? defaults.historySize
        self.historyTTL = try container.decodeIfPresent(Int.self, forKey: .historyTTL) ?? defaults.historyTTL
        self.presence = try container.decodeIfPresent(Bool.self, forKey: .presence) ?? defaults.presence
        self.joinLeave = try container.decodeIfPresent(Bool.self, forKey: .joinLeave) ?? defaults.joinLeave
        guard self.historySize >= 0, self.historySize <= 1_000_000 else {
            throw DecodingError.dataCorruptedError(forKey: .historySize, in: container, debugDescription: "historySize must be 0...1000000")
        }
        guard self.historyTTL >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .historyTTL, in: container, debugDescription: "historyTTL must be >= 0 seconds")
        }
    }
}
