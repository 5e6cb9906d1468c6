import Foundation
import JWTKit
import SwitchboardProtocol

/// Verifies the JWT a client presents (in the `token` query parameter or its `connect` command) and turns it
/// into ``Credentials``.
///
/// Keys come only from ``AuthConfiguration``: every HS256 secret, RS256 and ES256 PEM public key. A token is
/// checked against the keys of the algorithm its header names, and only those: an RSA public key is never used
/// as an HMAC secret, and `alg: none` is refused outright (RFC 8725 §2.1, §3.1). Key ids are not needed: a `kid`
/// in the token only changes which key is tried first, every key of the algorithm is tried.
///
/// Claims (RFC 7519 §4.1):
/// - `sub` (required, non-empty): the user id.
/// - `exp` (required): only short-lived tokens are accepted; one that never expires could not be revoked.
/// - `nbf`, `iat` (optional): neither may be in the future.
/// - `aud`, `iss`: checked when ``AuthConfiguration/audience`` or ``AuthConfiguration/issuer`` is set.
/// - `channels` (optional array of strings), `info` (optional object): see ``Credentials``.
///
/// Time is an input: ``verify(_:now:)`` judges `exp`, `nbf` and `iat` at the `now` it is given, allowing
/// ``leeway`` for clock skew between the token issuer and this node.
public struct TokenVerifier: Sendable {
    /// Clock skew tolerated on `exp`, `nbf` and `iat`: a token is still accepted up to 5 seconds after `exp`
    /// and from 5 seconds before `nbf`. Small, because tokens are short-lived; RFC 7519 allows "some small leeway".
    public static let leeway: TimeInterval = 5

    /// The longest token looked at (bytes). Anything longer is refused before decoding, bounding the work an
    /// unauthenticated peer can cause; real tokens are a few hundred bytes.
    public static let maximumTokenLength = 16 * 1024

    private static let acceptedAlgorithms = ["HS256", "RS256", "ES256"]

    /// One collection per algorithm, so the header's `alg` selects which keys may verify the token.
    private let keys: [String: JWTKeyCollection]
    private let audience: String?
    private let issuer: String?

    /// Loads every configured key. Throws when a key cannot be used (not PEM, wrong key type, RSA under
    /// 2048 bits, HMAC secret under 32 bytes), naming the key by its place in the configuration.
    public init(configuration: AuthConfiguration) async throws(ConfigurationError) {
        var keys = [String: JWTKeyCollection]()
        if !configuration.hmacSecrets.isEmpty {
            let collection = JWTKeyCollection()
            for (index, secret) in configuration.hmacSecrets.enumerated() {
                // RFC 7518 §3.2: an HS256 key MUST be at least as long as the hash output (256 bits).
                guard secret.utf8.count >= 32 else {
                    throw ConfigurationError(description: "auth.hmacSecrets[\(index)]: an HMAC secret must be at least 32 bytes (256 bits)")
                }
                await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: Self.kid("HS256", index))
            }
            keys["HS256"] = collection
        }
        if !configuration.rsaPublicKeys.isEmpty {
            let collection = JWTKeyCollection()
            for (index, pem) in configuration.rsaPublicKeys.enumerated() {
                let key: Insecure.RSA.PublicKey
                do {
                    key = try Insecure.RSA.PublicKey(pem: pem)
                } catch {
                    throw ConfigurationError(description: "auth.rsaPublicKeys[\(index)]: not a PEM RSA public key of at least 2048 bits (\(error))")
                }
                await collection.add(rsa: key, digestAlgorithm: .sha256, kid: Self.kid("RS256", index))
            }
            keys["RS256"] = collection
        }
        if !configuration.ecdsaPublicKeys.isEmpty {
            let collection = JWTKeyCollection()
            for (index, pem) in configuration.ecdsaPublicKeys.enumerated() {
                let key: ES256PublicKey
                do {
                    key = try ES256PublicKey(pem: pem)
                } catch {
                    throw ConfigurationError(description: "auth.ecdsaPublicKeys[\(index)]: not a PEM P-256 public key (\(error))")
                }
                await collection.add(ecdsa: key, kid: Self.kid("ES256", index))
            }
            keys["ES256"] = collection
        }
        self.keys = keys
        self.audience = configuration.audience
        self.issuer = configuration.issuer
    }

    /// Distinct ids let one collection hold several keys of an algorithm (without ids jwt-kit keeps only the
    /// last); verification iterates over all of them.
    private static func kid(_ algorithm: String, _ index: Int) -> JWKIdentifier {
        JWKIdentifier(string: "\(algorithm)-\(index)")
    }

    /// The credentials `token` grants at `now`, or why it grants none.
    ///
    /// - Parameters:
    ///   - token: the compact JWS as the client sent it; nil or empty is ``TokenError/Kind/missing``.
    ///   - now: the current time, against which `exp`, `nbf` and `iat` are judged.
    public func verify(_ token: String?, now: Date) async throws(TokenError) -> Credentials {
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
              Base64URL.decode(segments[2]) != nil
        else {
            throw TokenError(.malformed, "the token is not base64url")
        }
        guard let header = Self.jsonObject(headerBytes) else {
            throw TokenError(.malformed, "the token's header is not a JSON object")
        }
        guard case .string(let algorithm) = header["alg"] else {
            throw TokenError(.malformed, "the token's header has no alg")
        }
        // RFC 7515 §4.1.11: a JWS whose crit lists extensions the recipient does not support is invalid; we
        // support none.
        guard header["crit"] == nil else {
            throw TokenError(.malformed, "the token's header has crit extensions, which are not supported")
        }
        guard algorithm.lowercased() != "none" else {
            throw TokenError(.badSignature, "unsigned tokens (alg none) are refused")
        }
        guard let keys = self.keys[algorithm] else {
            throw TokenError(.badSignature, Self.acceptedAlgorithms.contains(algorithm)
                ? "no \(algorithm) key is configured"
                : "alg \(algorithm) is not accepted (only \(Self.acceptedAlgorithms.joined(separator: ", ")))")
        }
        // Parse the payload before the signature check: with several keys, jwt-kit reports the first key's
        // failure, so a well-signed token with a broken payload would otherwise read "bad signature".
        guard Self.jsonObject(payloadBytes) != nil else {
            throw TokenError(.malformed, "the token's payload is not a JSON object")
        }
        let claims: TokenClaims
        do {
            claims = try await keys.verify(token, as: TokenClaims.self, iteratingKeys: true)
        } catch {
            throw TokenError(.badSignature, "the signature does not verify with any configured \(algorithm) key")
        }
        return try claims.credentials(now: now, audience: self.audience, issuer: self.issuer, leeway: Self.leeway)
    }

    private static func jsonObject(_ bytes: [UInt8]) -> [String: JSONValue]? {
        try? JSONDecoder().decode([String: JSONValue].self, from: Data(bytes))
    }
}
