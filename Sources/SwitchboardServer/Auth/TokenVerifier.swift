import Foundation
import SwitchboardProtocol

/// Verifies the JWT a client presents (in the `token` query parameter or its `connect` command) and turns it
/// into ``Credentials``.
///
/// Keys come only from ``AuthConfiguration``: every HS256 secret, RS256 and ES256 PEM public key. A token is
/// checked against the keys of the algorithm its header names, and only those: an RSA public key is never used
/// as an HMAC secret, and `alg: none` is refused outright (RFC 8725 §2.1, §3.1). Key ids are not needed: every
/// key of the algorithm is tried, whatever `kid` the token names.
///
/// Claims (RFC 7519 §4.1):
/// - `sub` (required, non-empty): the user id.
/// - `exp` (required): only short-lived tokens are accepted; one that never expires could not be revoked.
/// - `nbf`, `iat` (optional): neither may be in the future.
/// - `aud`, `iss`: checked when ``AuthConfiguration/audience`` or ``AuthConfiguration/issuer`` is set.
/// - `channels` (optional array of strings), `info` (optional object): see ``Credentials``.
///
/// Time is an input: ``verify(_:now:)`` judges `exp`, `nbf` and `iat` at the `now` it is given, allowing
/// ``leeway`` for clock skew between the token issuer and this node. Verifying is synchronous and takes
/// microseconds: a connection's event loop does it without leaving the loop.
public struct TokenVerifier: Sendable {
    /// Clock skew tolerated on `exp`, `nbf` and `iat`: a token is still accepted up to 5 seconds after `exp`
    /// and from 5 seconds before `nbf`. Small, because tokens are short-lived; RFC 7519 allows "some small leeway".
    public static let leeway: TimeInterval = 5

    /// The longest token looked at (bytes). Anything longer is refused before decoding, bounding the work an
    /// unauthenticated peer can cause; real tokens are a few hundred bytes.
    public static let maximumTokenLength = 16 * 1024

    private let keys: TokenSigningKeys
    private let audience: String?
    private let issuer: String?

    /// Loads every configured key. Throws when a key cannot be used (not PEM, wrong key type, RSA under
    /// 2048 bits, HMAC secret under 32 bytes), naming the key by its place in the configuration.
    public init(configuration: AuthConfiguration) throws(ConfigurationError) {
        self.keys = try TokenSigningKeys(configuration)
        self.audience = configuration.audience
        self.issuer = configuration.issuer
    }

    /// The credentials `token` grants at `now`, or why it grants none.
    ///
    /// - Parameters:
    ///   - token: the compact JWS as the client sent it; nil or empty is ``TokenError/Kind/missing``.
    ///   - now: the current time, against which `exp`, `nbf` and `iat` are judged.
    public func verify(_ token: String?, now: Date) throws(TokenError) -> Credentials {
        guard let token, !token.isEmpty else {
            throw TokenError(.missing, "no token was given")
        }
        guard token.utf8.count <= Self.maximumTokenLength else {
            throw TokenError(.malformed, "the token is longer than \(Self.maximumTokenLength) bytes")
        }
        // RFC 7515 §7.1: compact JWS is three base64url segments. Five would be an encrypted JWT (JWE): refused.
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3 else {
            throw TokenError(.malformed, "a token is three base64url segments separated by dots")
        }
        guard let headerBytes = Base64URL.decode(segments[0]), let payloadBytes = Base64URL.decode(segments[1]),
              let signature = Base64URL.decode(segments[2])
        else {
            throw TokenError(.malformed, "the token is not base64url")
        }
        guard let header = Self.jsonObject(headerBytes) else {
            throw TokenError(.malformed, "the token's header is not a JSON object")
        }
        guard case .string(let algorithmName) = header["alg"] else {
            throw TokenError(.malformed, "the token's header has no alg")
        }
        // RFC 7515 §4.1.11: a JWS whose crit lists extensions the recipient does not support is invalid; we
        // support none.
        guard header["crit"] == nil else {
            throw TokenError(.malformed, "the token's header has crit extensions, which are not supported")
        }
        guard algorithmName.lowercased() != "none" else {
            throw TokenError(.badSignature, "unsigned tokens (alg none) are refused")
        }
        guard let algorithm = TokenSigningKeys.Algorithm(rawValue: algorithmName) else {
            let accepted = TokenSigningKeys.Algorithm.allCases.map(\.rawValue).joined(separator: ", ")
            throw TokenError(.badSignature, "alg \(algorithmName) is not accepted (only \(accepted))")
        }
        guard self.keys.hasKeys(for: algorithm) else {
            throw TokenError(.badSignature, "no \(algorithmName) key is configured")
        }
        // The payload's shape is judged before the signature, so that a well-signed token with a broken
        // payload reads "malformed", not "bad signature".
        guard let claims = Self.jsonObject(payloadBytes) else {
            throw TokenError(.malformed, "the token's payload is not a JSON object")
        }
        // RFC 7515 §5.2: the signature covers the header and payload exactly as sent, dot included.
        let signingInput = Array(token.utf8[..<segments[1].endIndex])
        guard self.keys.verify(signature, of: signingInput, algorithm: algorithm) else {
            throw TokenError(.badSignature, "the signature does not verify with any configured \(algorithmName) key")
        }
        return try TokenClaims(claims: claims).credentials(now: now, audience: self.audience, issuer: self.issuer, leeway: Self.leeway)
    }

    private static func jsonObject(_ bytes: [UInt8]) -> [String: JSONValue]? {
        try? JSONDecoder().decode([String: JSONValue].self, from: Data(bytes))
    }
}
