import Foundation
import JWTKit
import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

@Suite struct TokenMinterTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func mintedTokensVerifyUntilTheyExpire() async throws {
        let minter = try TokenMinter(secret: TestKeys.hmacSecret)
        let token = try await minter.mint(user: "alice", ttl: 60, channels: ["news:*"], info: ["name": "Alice"], now: self.now)
        let verifier = try await TokenVerifier(configuration: AuthConfiguration(hmacSecrets: [TestKeys.hmacSecret]))
        let credentials = try await verifier.verify(token, now: self.now)
        #expect(credentials == Credentials(user: "alice", expiresAt: self.now.addingTimeInterval(60), channels: ["news:*"], info: ["name": "Alice"]))
        #expect(await refusal(verifier, token, now: self.now.addingTimeInterval(60 + TokenVerifier.leeway))?.kind == .expired)
    }

    /// A verifier that requires an audience and issuer accepts what a minter given the same configuration writes.
    @Test func writesTheConfiguredAudienceAndIssuer() async throws {
        let configuration = AuthConfiguration(hmacSecrets: [TestKeys.hmacSecret], audience: "switchboard", issuer: "dev")
        let verifier = try await TokenVerifier(configuration: configuration)
        let plain = try await TokenMinter(secret: TestKeys.hmacSecret).mint(user: "bob", ttl: 60, now: self.now)
        #expect(await refusal(verifier, plain, now: self.now)?.kind == .wrongIssuer)
        let minter = try TokenMinter(secret: TestKeys.hmacSecret, audience: "switchboard", issuer: "dev")
        let token = try await minter.mint(user: "bob", ttl: 60, now: self.now)
        #expect(try await verifier.verify(token, now: self.now).user == "bob")
    }

    /// What is on the wire: whole-second dates, HS256, and no empty claims.
    @Test func writesPlainClaims() async throws {
        let token = try await TokenMinter(secret: TestKeys.hmacSecret).mint(user: "carol", ttl: 3600, now: self.now.addingTimeInterval(0.75))
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
