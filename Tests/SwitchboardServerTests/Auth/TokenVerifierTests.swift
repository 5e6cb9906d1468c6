import Crypto
import CryptoExtras
import Foundation
import JWTKit
import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

@Suite struct TokenVerifierTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let seconds = Int64(1_700_000_000)

    static let signers: [TestSigner] = [.hs256(TestKeys.hmacSecret), .rs256(TestKeys.rsa), .es256(TestKeys.ecdsa)]

    /// Claims every test starts from: valid for an hour from `now`.
    static func claims(_ changes: [String: JSONValue?] = [:]) -> [String: JSONValue] {
        var claims: [String: JSONValue] = ["sub": "alice", "exp": .integer(seconds + 3600), "iat": .integer(seconds)]
        for (name, value) in changes { claims[name] = value }
        return claims
    }

    func verifier(_ configuration: AuthConfiguration = TestKeys.configuration) async throws -> TokenVerifier {
        try TokenVerifier(configuration: configuration)
    }

    @Test(arguments: signers)
    func acceptsEachAlgorithmAndReadsTheClaims(signer: TestSigner) async throws {
        let token = try await signer.sign(Self.claims([
            "channels": ["news:*", "chat:lobby"], "info": ["name": "Alice", "level": 3],
        ]))
        let credentials = try await self.verifier().verify(token, now: Self.now)
        #expect(credentials == Credentials(user: "alice", expiresAt: Date(timeIntervalSince1970: 1_700_003_600),
                                           channels: ["news:*", "chat:lobby"], info: ["name": "Alice", "level": 3]))
    }

    @Test func absentOptionalClaimsGiveEmptyGrants() async throws {
        let token = try await TestSigner.hs256(TestKeys.hmacSecret).sign(["sub": "bob", "exp": .number(1_700_000_100.5)])
        let credentials = try await self.verifier().verify(token, now: Self.now)
        #expect(credentials.user == "bob")
        #expect(credentials.channels.isEmpty)
        #expect(credentials.info == nil)
        #expect(credentials.expiresAt == Date(timeIntervalSince1970: 1_700_000_100.5))
    }

    /// Several keys of one algorithm (rotation): a token signed with any of them verifies, with or without a kid.
    @Test func everyConfiguredKeyOfTheAlgorithmIsTried() async throws {
        let configuration = AuthConfiguration(
            hmacSecrets: [TestKeys.otherHMACSecret, TestKeys.hmacSecret],
            rsaPublicKeys: [TestKeys.otherRSA.publicKey.pemRepresentation, TestKeys.rsa.publicKey.pemRepresentation],
            ecdsaPublicKeys: [TestKeys.otherECDSA.publicKey.pemRepresentation, TestKeys.ecdsa.publicKey.pemRepresentation])
        let verifier = try await self.verifier(configuration)
        for signer in Self.signers {
            let plain = try await signer.sign(Self.claims())
            #expect(try verifier.verify(plain, now: Self.now).user == "alice", "\(signer)")
            let withKid = try await signer.sign(Self.claims(), header: ["kid": "issuer-key-7"])
            #expect(try verifier.verify(withKid, now: Self.now).user == "alice", "\(signer) with an unknown kid")
        }
    }

    @Test(arguments: [
        TestSigner.hs256(TestKeys.otherHMACSecret), .rs256(TestKeys.otherRSA), .es256(TestKeys.otherECDSA),
    ])
    func refusesATokenSignedWithAnUnknownKey(signer: TestSigner) async throws {
        let token = try await signer.sign(Self.claims())
        let error = refusal(try await self.verifier(), token, now: Self.now)
        #expect(error?.kind == .badSignature)
    }

    @Test(arguments: signers)
    func refusesATamperedPayload(signer: TestSigner) async throws {
        let token = try await signer.sign(Self.claims())
        let parts = token.split(separator: ".")
        let forged = try JSONEncoder().encode(Self.claims(["sub": "mallory"]))
        let tampered = "\(parts[0]).\(base64URL(forged)).\(parts[2])"
        let error = refusal(try await self.verifier(), tampered, now: Self.now)
        #expect(error?.kind == .badSignature)
    }

    @Test func refusesATamperedSignature() async throws {
        let token = try await TestSigner.hs256(TestKeys.hmacSecret).sign(Self.claims())
        let parts = token.split(separator: ".")
        var signature = try #require(Data(base64Encoded: String(parts[2]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "="))
        signature[0] ^= 1
        let error = refusal(try await self.verifier(), "\(parts[0]).\(parts[1]).\(base64URL(signature))", now: Self.now)
        #expect(error?.kind == .badSignature)
    }

    /// RFC 8725 §2.1: an unsigned token must never be accepted, however `none` is spelled.
    @Test(arguments: ["none", "None", "NONE"])
    func refusesUnsignedTokens(alg: String) async throws {
        let header = base64URL(Data(#"{"alg":"\#(alg)","typ":"JWT"}"#.utf8))
        let payload = base64URL(try JSONEncoder().encode(Self.claims()))
        let verifier = try await self.verifier()
        for token in ["\(header).\(payload).", "\(header).\(payload).c2ln"] {
            let error = refusal(verifier, token, now: Self.now)
            #expect(error?.kind == .badSignature, "\(token)")
        }
    }

    /// The classic algorithm confusion: the RSA public key (public knowledge) used as an HMAC secret. The
    /// header's alg selects HS256 keys only, and the PEM is not one of them.
    @Test func refusesAnHMACTokenKeyedWithTheRSAPublicKey() async throws {
        let pem = TestKeys.rsa.publicKey.pemRepresentation
        let token = try await TestSigner.hs256(pem).sign(Self.claims())
        for configuration in [AuthConfiguration(rsaPublicKeys: [pem]), TestKeys.configuration] {
            let error = refusal(try await self.verifier(configuration), token, now: Self.now)
            #expect(error?.kind == .badSignature)
        }
    }

    /// A header that names one algorithm over a signature made with another is refused: the alg picks the keys.
    @Test func refusesAHeaderAlgorithmThatDoesNotMatchTheSignature() async throws {
        let token = try await TestSigner.hs256(TestKeys.hmacSecret).sign(Self.claims(), header: ["alg": "RS256"])
        let error = refusal(try await self.verifier(), token, now: Self.now)
        #expect(error?.kind == .badSignature)
    }

    @Test func refusesAlgorithmsWithoutAConfiguredKey() async throws {
        let verifier = try await self.verifier(AuthConfiguration(hmacSecrets: [TestKeys.hmacSecret]))
        let es256 = try await TestSigner.es256(TestKeys.ecdsa).sign(Self.claims())
        let error = refusal(verifier, es256, now: Self.now)
        #expect(error?.kind == .badSignature)
        #expect(error?.message.contains("no ES256 key") == true)

        let hs512 = base64URL(Data(#"{"alg":"HS512"}"#.utf8)) + "." + base64URL(try JSONEncoder().encode(Self.claims())) + ".c2ln"
        let other = refusal(verifier, hs512, now: Self.now)
        #expect(other?.kind == .badSignature)
        #expect(other?.message.contains("not accepted") == true)

        let nothing = try await self.verifier(AuthConfiguration())
        #expect(refusal(nothing, try await TestSigner.hs256(TestKeys.hmacSecret).sign(Self.claims()), now: Self.now)?.kind == .badSignature)
    }

    /// RFC 7519 §4.1.4 with 5 s of leeway: accepted until exp + 5 s, refused from then on.
    @Test(arguments: signers)
    func expiryIsJudgedAtTheGivenTime(signer: TestSigner) async throws {
        let verifier = try await self.verifier()
        let token = try await signer.sign(Self.claims(["exp": .integer(Self.seconds)]))
        #expect(refusal(verifier, token, now: Self.now.addingTimeInterval(-1)) == nil)
        #expect(refusal(verifier, token, now: Self.now) == nil, "at exp, within the leeway")
        #expect(refusal(verifier, token, now: Self.now.addingTimeInterval(4.999)) == nil)
        let error = refusal(verifier, token, now: Self.now.addingTimeInterval(TokenVerifier.leeway))
        #expect(error?.kind == .expired)
        #expect(error?.errorCode == .tokenExpired)
        #expect(error?.disconnectCode == .tokenExpired)
        #expect(refusal(verifier, token, now: Self.now.addingTimeInterval(86_400))?.kind == .expired)
    }

    @Test func notBeforeAndIssuedAtInTheFutureAreRefused() async throws {
        let verifier = try await self.verifier()
        let signer = TestSigner.hs256(TestKeys.hmacSecret)
        let later = try await signer.sign(Self.claims(["nbf": .integer(Self.seconds + 60)]))
        #expect(refusal(verifier, later, now: Self.now)?.kind == .notYetValid)
        #expect(refusal(verifier, later, now: Self.now.addingTimeInterval(55)) == nil, "within the leeway")
        #expect(refusal(verifier, later, now: Self.now.addingTimeInterval(60)) == nil)

        let issuedLater = try await signer.sign(Self.claims(["iat": .integer(Self.seconds + 60)]))
        let error = refusal(verifier, issuedLater, now: Self.now)
        #expect(error?.kind == .notYetValid)
        #expect(error?.errorCode == .unauthorized)
        #expect(error?.disconnectCode == .unauthorized)
    }

    @Test func requiredClaimsMustBePresent() async throws {
        let verifier = try await self.verifier()
        let signer = TestSigner.hs256(TestKeys.hmacSecret)
        for changes: [String: JSONValue?] in [["sub": nil], ["sub": ""], ["sub": .null], ["exp": nil], ["exp": .null]] {
            let token = try await signer.sign(Self.claims(changes))
            let error = refusal(verifier, token, now: Self.now)
            #expect(error?.kind == .missingClaim, "\(changes)")
            #expect(error?.errorCode == .unauthorized)
        }
    }

    @Test func claimsOfTheWrongTypeAreMalformed() async throws {
        let verifier = try await self.verifier()
        let signer = TestSigner.hs256(TestKeys.hmacSecret)
        let cases: [[String: JSONValue?]] = [
            ["sub": 42], ["exp": "tomorrow"], ["exp": true], ["nbf": "now"], ["iat": ["x"]],
            ["channels": "news:*"], ["channels": ["ok", 1]], ["info": "Alice"], ["info": ["Alice"]],
        ]
        for changes in cases {
            let token = try await signer.sign(Self.claims(changes))
            #expect(refusal(verifier, token, now: Self.now)?.kind == .malformed, "\(changes)")
        }
    }

    @Test func audienceAndIssuerAreCheckedWhenConfigured() async throws {
        var configuration = TestKeys.configuration
        configuration.audience = "switchboard"
        configuration.issuer = "https://auth.example.com"
        let verifier = try await self.verifier(configuration)
        let signer = TestSigner.es256(TestKeys.ecdsa)
        let good: [String: JSONValue?] = ["aud": "switchboard", "iss": "https://auth.example.com"]
        func check(_ changes: [String: JSONValue?]) async throws -> TokenError? {
            let merged = good.merging(changes) { $1 }
            return refusal(verifier, try await signer.sign(Self.claims(merged)), now: Self.now)
        }
        #expect(try await check([:]) == nil)
        #expect(try await check(["aud": ["other", "switchboard"]]) == nil)
        #expect(try await check(["aud": "other"])?.kind == .wrongAudience)
        #expect(try await check(["aud": ["other", "more"]])?.kind == .wrongAudience)
        #expect(try await check(["aud": "Switchboard"])?.kind == .wrongAudience, "case-sensitive (RFC 7519 §4.1.3)")
        #expect(try await check(["aud": nil])?.kind == .wrongAudience)
        #expect(try await check(["aud": 7])?.kind == .malformed)
        #expect(try await check(["iss": "https://evil.example.com"])?.kind == .wrongIssuer)
        #expect(try await check(["iss": nil])?.kind == .wrongIssuer)

        // Unconfigured, they are not looked at.
        let lenient = try await self.verifier()
        #expect(refusal(lenient, try await signer.sign(Self.claims(["aud": "anyone", "iss": "anybody"])), now: Self.now) == nil)
    }

    @Test func missingAndMalformedTokens() async throws {
        let verifier = try await self.verifier()
        #expect(refusal(verifier, nil, now: Self.now)?.kind == .missing)
        #expect(refusal(verifier, "", now: Self.now)?.kind == .missing)
        let payload = base64URL(try JSONEncoder().encode(Self.claims()))
        let header = base64URL(Data(#"{"alg":"HS256"}"#.utf8))
        let malformed = [
            "not-a-token", "a.b", "\(header).\(payload)", "\(header).\(payload).c2ln.c2ln.c2ln",
            "\(header).\(payload).c2ln!", "\(header)=.\(payload).c2ln", "\(header).\(payload)==.c2ln",
            "\(base64URL(Data("not json".utf8))).\(payload).c2ln", "\(base64URL(Data("[1]".utf8))).\(payload).c2ln",
            "\(base64URL(Data(#"{"typ":"JWT"}"#.utf8))).\(payload).c2ln", "\(base64URL(Data(#"{"alg":7}"#.utf8))).\(payload).c2ln",
            "\(header).\(base64URL(Data("not json".utf8))).c2ln",
            "\(header).\(payload).c2ln" + String(repeating: "A", count: TokenVerifier.maximumTokenLength),
        ]
        for token in malformed {
            let error = refusal(verifier, token, now: Self.now)
            #expect(error?.kind == .malformed, "\(token.prefix(120))")
            #expect(error?.errorCode == .unauthorized)
            #expect(error?.disconnectCode == .unauthorized)
        }
    }

    /// A correctly signed token whose payload is not a JSON object is malformed, not badly signed, even when
    /// the key that signed it is not the first one tried.
    @Test func aWellSignedBrokenPayloadIsMalformed() async throws {
        let verifier = try await self.verifier(AuthConfiguration(hmacSecrets: [TestKeys.otherHMACSecret, TestKeys.hmacSecret]))
        let signingInput = base64URL(Data(#"{"alg":"HS256"}"#.utf8)) + "." + base64URL(Data("[\"sub\"]".utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: SymmetricKey(data: Data(TestKeys.hmacSecret.utf8)))
        let error = refusal(verifier, signingInput + "." + base64URL(Data(mac)), now: Self.now)
        #expect(error?.kind == .malformed)
    }

    /// RFC 7515 §4.1.11: extensions listed in crit must be understood; none are.
    @Test func refusesCriticalHeaderExtensions() async throws {
        let token = try await TestSigner.hs256(TestKeys.hmacSecret).sign(Self.claims(), header: ["crit": ["b64"], "b64": false])
        #expect(refusal(try await self.verifier(), token, now: Self.now)?.kind == .malformed)
    }

    @Test func unusableKeysAreConfigurationErrors() async throws {
        let rsa1024 = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024)).publicKey.pemRepresentation
        let cases: [(AuthConfiguration, String)] = [
            (AuthConfiguration(hmacSecrets: [TestKeys.hmacSecret, "short"]), "auth.hmacSecrets[1]"),
            (AuthConfiguration(rsaPublicKeys: ["not a pem"]), "auth.rsaPublicKeys[0]"),
            (AuthConfiguration(rsaPublicKeys: [TestKeys.ecdsa.publicKey.pemRepresentation]), "auth.rsaPublicKeys[0]"),
            (AuthConfiguration(rsaPublicKeys: [rsa1024]), "auth.rsaPublicKeys[0]"),
            (AuthConfiguration(ecdsaPublicKeys: [TestKeys.rsa.publicKey.pemRepresentation]), "auth.ecdsaPublicKeys[0]"),
            (AuthConfiguration(ecdsaPublicKeys: [P384.Signing.PrivateKey().publicKey.pemRepresentation]), "auth.ecdsaPublicKeys[0]"),
        ]
        for (configuration, place) in cases {
            do {
                _ = try TokenVerifier(configuration: configuration)
                Issue.record("accepted \(place)")
            } catch {
                #expect(error.description.hasPrefix(place), "\(error)")
            }
        }
    }

    @Test func onlyExpiryAsksForARefresh() {
        let kinds: [TokenError.Kind] = [.missing, .malformed, .badSignature, .notYetValid, .wrongAudience, .wrongIssuer, .missingClaim]
        for kind in kinds {
            let error = TokenError(kind, "x")
            #expect(error.errorCode == .unauthorized, "\(kind)")
            #expect(error.disconnectCode == .unauthorized, "\(kind)")
            #expect(!error.disconnectCode.shouldReconnect, "\(kind)")
        }
        let expired = TokenError(.expired, "x")
        #expect(expired.errorCode == .tokenExpired)
        #expect(expired.disconnectCode == .tokenExpired)
        #expect(expired.disconnectCode.shouldReconnect)
    }
}
