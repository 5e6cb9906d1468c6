/// How tokens are verified. Keys come from the config file or the environment, never from the client.
public struct AuthConfiguration: Sendable, Hashable, Codable {
    /// Shared secrets for HS256 tokens.
    public var hmacSecrets: [String]
    /// PEM public keys (RSA) for RS256 tokens.
    public var rsaPublicKeys: [String]
    /// PEM public keys (P-256) for ES256 tokens.
    public var ecdsaPublicKeys: [String]
    /// When set, a token's `aud` must contain it.
    public var audience: String?
    /// When set, a token's `iss` must equal it.
    public var issuer: String?
    /// Whether a client may connect without a token (as an anonymous user with an empty id). Namespaces
    /// still decide what an anonymous client may subscribe to.
    public var allowAnonymous: Bool
    /// How long a connect ticket (`POST /connection/ticket`) may wait to be used, in seconds (1–300).
    public var ticketSeconds: Int

    public init(hmacSecrets: [String] = [], rsaPublicKeys: [String] = [], ecdsaPublicKeys: [String] = [],
                audience: String? = nil, issuer: String? = nil, allowAnonymous: Bool = false, ticketSeconds: Int = 10) {
        self.hmacSecrets = hmacSecrets
        self.rsaPublicKeys = rsaPublicKeys
        self.ecdsaPublicKeys = ecdsaPublicKeys
        self.audience = audience
        self.issuer = issuer
        self.allowAnonymous = allowAnonymous
        self.ticketSeconds = ticketSeconds
    }

    /// True when no key is configured: `serve` then generates a development secret and warns.
    public var hasKeys: Bool { !(self.hmacSecrets.isEmpty && self.rsaPublicKeys.isEmpty && self.ecdsaPublicKeys.isEmpty) }

    private enum Key: String, CodingKey {
        case hmacSecrets, rsaPublicKeys, ecdsaPublicKeys, audience, issuer, allowAnonymous, ticketSeconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        self.hmacSecrets = try container.decodeIfPresent([String].self, forKey: .hmacSecrets) ?? []
        self.rsaPublicKeys = try container.decodeIfPresent([String].self, forKey: .rsaPublicKeys) ?? []
        self.ecdsaPublicKeys = try container.decodeIfPresent([String].self, forKey: .ecdsaPublicKeys) ?? []
        self.audience = try container.decodeIfPresent(String.self, forKey: .audience)
        self.issuer = try container.decodeIfPresent(String.self, forKey: .issuer)
        self.allowAnonymous = try container.decodeIfPresent(Bool.self, forKey: .allowAnonymous) ?? false
        self.ticketSeconds = try container.decodeIfPresent(Int.self, forKey: .ticketSeconds) ?? 10
        guard (1...300).contains(self.ticketSeconds) else {
            throw DecodingError.dataCorruptedError(forKey: .ticketSeconds, in: container,
                                                   debugDescription: "a ticket lives 1 to 300 seconds")
        }
        if self.hmacSecrets.contains(where: { $0.utf8.count < 32 }) {
            throw DecodingError.dataCorruptedError(forKey: .hmacSecrets, in: container,
                                                   debugDescription: "an HMAC secret must be at least 32 bytes (256 bits)")
        }
    }
}
