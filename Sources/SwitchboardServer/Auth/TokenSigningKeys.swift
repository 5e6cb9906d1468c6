import Crypto
import _CryptoExtras

/// The keys a token's signature may be checked against, per JWS algorithm (RFC 7518 §3): HS256 secrets,
/// RS256 and ES256 public keys, all from ``AuthConfiguration``.
///
/// Checked with swift-crypto directly and synchronously, on the connection's event loop: an HMAC over a
/// few hundred bytes takes microseconds, an RSA or P-256 verification tens of them, where the hop to and
/// from an actor (jwt-kit's key collection) cost every connect two thread wake-ups.
struct TokenSigningKeys: Sendable {
    /// The JWS algorithms a token's header may name (its `alg`).
    enum Algorithm: String, CaseIterable {
        case hs256 = "HS256"
        case rs256 = "RS256"
        case es256 = "ES256"
    }

    private var hmac: [SymmetricKey] = []
    private var rsa: [_RSA.Signing.PublicKey] = []
    private var ecdsa: [P256.Signing.PublicKey] = []

    /// Loads every configured key. Throws when a key cannot be used (not PEM, wrong key type, RSA under
    /// 2048 bits, HMAC secret under 32 bytes), naming the key by its place in the configuration.
    init(_ configuration: AuthConfiguration) throws(ConfigurationError) {
        for (index, secret) in configuration.hmacSecrets.enumerated() {
            // RFC 7518 §3.2: an HS256 key MUST be at least as long as the hash output (256 bits).
            guard secret.utf8.count >= 32 else {
                throw ConfigurationError(description: "auth.hmacSecrets[\(index)]: an HMAC secret must be at least 32 bytes (256 bits)")
            }
            self.hmac.append(SymmetricKey(data: Array(secret.utf8)))
        }
        for (index, pem) in configuration.rsaPublicKeys.enumerated() {
            do {
                // Refuses keys under 2048 bits (RFC 7518 §3.3).
                self.rsa.append(try _RSA.Signing.PublicKey(pemRepresentation: pem))
            } catch {
                throw ConfigurationError(description: "auth.rsaPublicKeys[\(index)]: not a PEM RSA public key of at least 2048 bits (\(error))")
            }
        }
        for (index, pem) in configuration.ecdsaPublicKeys.enumerated() {
            do {
                self.ecdsa.append(try P256.Signing.PublicKey(pemRepresentation: pem))
            } catch {
                throw ConfigurationError(description: "auth.ecdsaPublicKeys[\(index)]: not a PEM P-256 public key (\(error))")
            }
        }
    }

    /// Whether any key of `algorithm` is configured.
    func hasKeys(for algorithm: Algorithm) -> Bool {
        switch algorithm {
        case .hs256: !self.hmac.isEmpty
        case .rs256: !self.rsa.isEmpty
        case .es256: !self.ecdsa.isEmpty
        }
    }

    /// Whether `signature` is `algorithm`'s signature of `signingInput` (the token up to its second dot) by
    /// one of the keys of that algorithm, and only those: an RSA public key is never tried as an HMAC secret.
    /// Every key is tried (key rotation), so a `kid` is not needed.
    func verify(_ signature: [UInt8], of signingInput: [UInt8], algorithm: Algorithm) -> Bool {
        switch algorithm {
        case .hs256:
            // Constant-time comparison (swift-crypto's isValidAuthenticationCode).
            return self.hmac.contains { HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signingInput, using: $0) }
        case .rs256:
            // RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256.
            let digest = SHA256.hash(data: signingInput)
            let rsaSignature = _RSA.Signing.RSASignature(rawRepresentation: signature)
            return self.rsa.contains { $0.isValidSignature(rsaSignature, for: digest, padding: .insecurePKCS1v1_5) }
        case .es256:
            // RFC 7518 §3.4: R and S as 32 big-endian bytes each, not DER (any other length is refused here).
            guard let ecdsaSignature = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            let digest = SHA256.hash(data: signingInput)
            return self.ecdsa.contains { $0.isValidSignature(ecdsaSignature, for: digest) }
        }
    }
}
