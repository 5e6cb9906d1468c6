import Foundation
import JWTKit
import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

@Suite struct TokenMinterTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func mintedTokensVerifyUntilTheyExpire() async throws {
        let minter = try TokenMinter(secret: TestKeys.hmacSecret)
        let token = try minter.mint(user: "alice", ttl: 60, channels: ["news:*"], info: ["name": "Alice"], now: self.now)
        let verifier = try TokenVerifier(configuration: AuthConfiguration(hmacSecrets: [TestKeys.hmacSecret]))
        let credentials = try verifier.verify(token, now: self.now)
        #expect(credentials == Credentials(user: "alice", expiresAt: self.now.addingTimeInterval(60), channels: ["news:*"], info: ["name": "Alice"]))
        #expect(refusal(verifier, token, now: self.now.addingTimeInterval(60 + TokenVerifier.leeway))?.kind == .expired)
    }

    /// The minter and the verifier are ours: jwt-kit, written independently, must read the token the same way.
    @Test func mintedTokensVerifyWithAnotherJWTLibrary() async throws {
        let token = try TokenMinter(secret: TestKeys.hmacSecret).mint(user: "alice", ttl: 60, channels: ["news:*"], now: self.now)
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: TestKeys.hmacSecret), digestAlgorithm: .sha256)
        let claims = try await keys.verify(token, as: RawClaims.self).claims
        #expect(claims == ["sub": "alice", "iat": 1_700_000_000, "exp": 1_700_000_060, "channels": ["news:*"]])
        let otherKeys = JWTKeyCollection()
        await otherKeys.add(hmac: HMACKey(from: TestKeys.otherHMACSecret), digestAlgorithm: .sha256)
        await #expect(throws: (any Error).self) { try await otherKeys.verify(token, as: RawClaims.self) }
    }

    /// A verifier that requires an audience and issuer accepts what a minter given the same configuration writes.
    @Test func writesTheConfiguredAudienceAndIssuer() async throws {
        let configuration = AuthConfiguration(hmacSecrets: [TestKeys.hmacSecret], audience: "switchboard", issuer: "dev")
        let verifier = try TokenVerifier(configuration: configuration)
        let plain = try TokenMinter(secret: TestKeys.hmacSecret).mint(user: "bob", ttl: 60, now: self.now)
        #expect(refusal(verifier, plain, now: self.now)?.kind == .wrongIssuer)
        let minter = try TokenMinter(secret: TestKeys.hmacSecret, audience: "switchboard", issuer: "dev")
        let token = try minter.mint(user: "bob", ttl: 60, now: self.now)
        #expect(try verifier.verify(token, now: self.now).user == "bob")
    }

    /// What is on the wire: whole-second dates, HS256, and no empty claims.
    @Test func writesPlainClaims() async throws {
        let token = try TokenMinter(secret: TestKeys.hmacSecret).mint(user: "carol", ttl: 3600, now: self.now.addingTimeInterval(0.75))
        let parts = token.split(separator: ".").map(String.init)
        let header = try JSONDecoder().decode([String: JSONValue].self, from: Data(try #require(Base64URL.decode(parts[0]))))
        let payload = try JSONDecoder().decode([String: JSONValue].self, from: Data(try #require(Base64URL.decode(parts[1]))))
        #expect(header["alg"] == "HS256")
        #expect(payload == ["sub": "carol", "iat": 1_700_000_000, "exp": 1_700_003_600])
    }

    @Test func refusesShortSecrets() {
        #expect(throws: ConfigurationError.self) { try TokenMinter(secret: "too short") }
    }
}
