import Crypto
import Foundation
import Testing
@testable import SwitchboardServer

/// A token built without jwt-kit, to show the verifier reads what any JWT library writes. The expected token
/// was computed independently with Python's `hmac` and `base64` modules:
///
///     s = b64url(header) + "." + b64url(payload)
///     s + "." + b64url(hmac.new(secret, s.encode(), hashlib.sha256).digest())
@Suite struct InteropVectorTests {
    static let secret = "switchboard-interop-vector-secret-0123456789"
    static let header = #"{"alg":"HS256","typ":"JWT"}"#
    static let payload = #"{"sub":"alice","exp":2000000000,"iat":1700000000,"aud":"switchboard","channels":["news:*","chat:lobby"],"info":{"name":"Alice"}}"#
    static let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        + ".eyJzdWIiOiJhbGljZSIsImV4cCI6MjAwMDAwMDAwMCwiaWF0IjoxNzAwMDAwMDAwLCJhdWQiOiJzd2l0Y2hib2FyZCIsImNoYW5uZWxzIjpbIm5ld3M6KiIsImNoYXQ6bG9iYnkiXSwiaW5mbyI6eyJuYW1lIjoiQWxpY2UifX0"
        + ".W07LoGdfS-3xeRTJD1TbYbg-XVzlS1JnLEg1HLdxt3s"

    /// The same bytes from swift-crypto: base64url(header) . base64url(payload) . base64url(HMAC-SHA256).
    @Test func handBuiltTokenMatchesTheIndependentVector() {
        let signingInput = base64URL(Data(Self.header.utf8)) + "." + base64URL(Data(Self.payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(Self.secret.utf8)))
        #expect(signingInput + "." + base64URL(Data(mac)) == Self.token)
    }

    @Test func verifierAcceptsTheVector() async throws {
        let verifier = try TokenVerifier(configuration: AuthConfiguration(hmacSecrets: [Self.secret], audience: "switchboard"))
        let credentials = try verifier.verify(Self.token, now: Date(timeIntervalSince1970: 1_700_000_100))
        #expect(credentials == Credentials(user: "alice", expiresAt: Date(timeIntervalSince1970: 2_000_000_000),
                                           channels: ["news:*", "chat:lobby"], info: ["name": "Alice"]))
        let late = refusal(verifier, Self.token, now: Date(timeIntervalSince1970: 2_000_000_005))
        #expect(late?.kind == .expired)
        #expect(late?.message.contains("2033-05-18T03:33:20Z") == true, "\(late?.message ?? "")")
    }

    @Test func aOneCharacterChangeBreaksIt() async throws {
        let verifier = try TokenVerifier(configuration: AuthConfiguration(hmacSecrets: [Self.secret]))
        let now = Date(timeIntervalSince1970: 1_700_000_100)
        #expect(refusal(verifier, Self.token, now: now) == nil)
        // The last character carries the MAC's last 4 bits: 's' to '4' changes the last byte from 0x7b to 0x7e.
        var flipped = Self.token
        flipped.removeLast()
        #expect(refusal(verifier, flipped + "4", now: now)?.kind == .badSignature)
        let wrongSecret = try TokenVerifier(configuration: AuthConfiguration(hmacSecrets: [Self.secret + "!"]))
        #expect(refusal(wrongSecret, Self.token, now: now)?.kind == .badSignature)
    }
}
