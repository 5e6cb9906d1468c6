import Crypto
import CryptoExtras
import Foundation
import JWTKit
import SwitchboardProtocol
@testable import SwitchboardServer

/// Keys generated once per test run, and tokens signed with them by jwt-kit: the signing side is jwt-kit and
/// swift-crypto, not the code under test.
enum TestKeys {
    static let hmacSecret = "a-test-hmac-secret-of-at-least-32-bytes!"
    static let otherHMACSecret = "another-test-hmac-secret-32-bytes-long!!"
    static let rsa = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let otherRSA = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let ecdsa = P256.Signing.PrivateKey()
    static let otherECDSA = P256.Signing.PrivateKey()

    /// A configuration that knows one key of each algorithm.
    static var configuration: AuthConfiguration {
        AuthConfiguration(hmacSecrets: [hmacSecret], rsaPublicKeys: [rsa.publicKey.pemRepresentation],
                          ecdsaPublicKeys: [ecdsa.publicKey.pemRepresentation])
    }
}

/// How a test token is signed.
enum TestSigner: Sendable, CustomStringConvertible {
    case hs256(String)
    case rs256(_RSA.Signing.PrivateKey)
    case es256(P256.Signing.PrivateKey)

    var description: String {
        switch self {
        case .hs256: "HS256"
        case .rs256: "RS256"
        case .es256: "ES256"
        }
    }

    /// A token with exactly `claims`, signed by jwt-kit; `header` fields are added to (or override) jwt-kit's.
    func sign(_ claims: [String: JSONValue], header: JWTHeader = JWTHeader()) async throws -> String {
        let keys = JWTKeyCollection()
        switch self {
        case .hs256(let secret): await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        case .rs256(let key): await keys.add(rsa: try Insecure.RSA.PrivateKey(backing: key), digestAlgorithm: .sha256)
        case .es256(let key): await keys.add(ecdsa: try ES256PrivateKey(backing: key))
        }
        return try await keys.sign(RawClaims(claims: claims), header: header)
    }
}

/// Any JSON object as a JWT payload, so tests can write claims the verifier must refuse.
struct RawClaims: JWTPayload {
    var claims: [String: JSONValue]
    init(claims: [String: JSONValue]) { self.claims = claims }
    init(from decoder: any Decoder) throws { self.claims = try decoder.singleValueContainer().decode([String: JSONValue].self) }
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.claims)
    }
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Unpadded base64url by Foundation's encoder, independent of the verifier's decoder.
func base64URL(_ bytes: some DataProtocol) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// The refusal `verify` gives, or nil when it accepts the token.
func refusal(_ verifier: TokenVerifier, _ token: String?, now: Date) -> TokenError? {
    do {
        _ = try verifier.verify(token, now: now)
        return nil
    } catch {
        return error
    }
}
