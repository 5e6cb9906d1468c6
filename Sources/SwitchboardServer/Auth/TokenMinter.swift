import Crypto
import Foundation
import SwitchboardProtocol

/// Mints HS256 tokens that ``TokenVerifier`` accepts: for the development mode of `switchboard serve`, the
/// `switchboard token` command and tests. Production back-ends mint their own tokens with their own JWT library.
public struct TokenMinter: Sendable {
    private let secret: SymmetricKey
    private let audience: String?
    private let issuer: String?

    /// - Parameters:
    ///   - secret: the HS256 secret, at least 32 bytes (RFC 7518 §3.2), as in ``AuthConfiguration/hmacSecrets``.
    ///   - audience: written as `aud`; pass the server's ``AuthConfiguration/audience`` when it has one.
    ///   - issuer: written as `iss`; pass the server's ``AuthConfiguration/issuer`` when it has one.
    public init(secret: String, audience: String? = nil, issuer: String? = nil) throws(ConfigurationError) {
        guard secret.utf8.count >= 32 else {
            throw ConfigurationError(description: "an HMAC secret must be at least 32 bytes (256 bits)")
        }
        self.secret = SymmetricKey(data: Array(secret.utf8))
        self.audience = audience
        self.issuer = issuer
    }

    /// A signed token for `user`, issued at `now` and valid for `ttl` seconds.
    ///
    /// - Precondition: `user` is not empty and `ttl` is positive: an empty `sub` or an already expired token
    ///   would only be refused by the verifier, so asking for one is a bug in the caller.
    public func mint(user: String, ttl: Int, channels: [String] = [], info: [String: JSONValue]? = nil,
                     now: Date) throws -> String {
        precondition(!user.isEmpty, "a token needs a user id")
        precondition(ttl > 0, "a token's ttl must be positive")
        let issuedAt = Int(now.timeIntervalSince1970)
        let claims = MintedClaims(sub: user, exp: issuedAt + ttl, iat: issuedAt, aud: self.audience, iss: self.issuer,
                                  channels: channels.isEmpty ? nil : channels, info: info)
        // RFC 7515 §7.1: BASE64URL(header) . BASE64URL(payload) . BASE64URL(HMAC-SHA256 of the two).
        let signingInput = Self.header + "." + Base64URL.encode(try JSONEncoder().encode(claims))
        let signature = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: self.secret)
        return signingInput + "." + Base64URL.encode(Array(signature))
    }

    private static let header = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    /// Whole seconds for the dates: every JWT library reads integers, not all read fractions. Absent
    /// optional claims are left out, not written as null.
    private struct MintedClaims: Encodable {
        var sub: String
        var exp: Int
        var iat: Int
        var aud: String?
        var iss: String?
        var channels: [String]?
        var info: [String: JSONValue]?
    }
}
