import Testing
@testable import SwitchboardServer

@Suite struct APIKeyAuthenticatorTests {
    let authenticator = APIKeyAuthenticator(keys: ["first-key-0123456789", "second-key-abcdefghij"])

    @Test func acceptsConfiguredKeysWithEitherScheme() {
        for header in [
            "apikey first-key-0123456789", "apikey second-key-abcdefghij", "ApiKey first-key-0123456789",
            "APIKEY  first-key-0123456789 ", "Bearer second-key-abcdefghij", "bearer\tfirst-key-0123456789",
        ] {
            #expect(self.authenticator.authenticate(authorization: header) == .allow, "\(header)")
        }
    }

    @Test func refusesEverythingElse() {
        let cases: [(header: String?, reason: String)] = [
            (nil, "missing Authorization header (Authorization: apikey <key>)"),
            ("apikey wrong", "unknown API key"),
            ("apikey first-key-012345678", "unknown API key"),
            ("apikey first-key-01234567890", "unknown API key"),
            ("apikey FIRST-KEY-0123456789", "unknown API key"),
            ("apikey first-key-0123456789 second-key-abcdefghij", "unknown API key"),
            ("apikey ", "empty API key"),
            ("apikey", "empty API key"),
            ("", "unsupported authorization scheme (use Authorization: apikey <key>)"),
            ("first-key-0123456789", "unsupported authorization scheme (use Authorization: apikey <key>)"),
            ("Basic Zmlyc3Qta2V5LTAxMjM0NTY3ODk=", "unsupported authorization scheme (use Authorization: apikey <key>)"),
            ("apikeyfirst-key-0123456789", "unsupported authorization scheme (use Authorization: apikey <key>)"),
        ]
        for item in cases {
            #expect(self.authenticator.authenticate(authorization: item.header) == .refuse(reason: item.reason), "\(item)")
        }
    }

    @Test func withoutKeysTheAPIIsDisabled() {
        for authenticator in [APIKeyAuthenticator(keys: []), APIKeyAuthenticator(keys: [""])] {
            #expect(!authenticator.isEnabled)
            guard case .refuse(let reason) = authenticator.authenticate(authorization: "apikey ") else {
                Issue.record("an empty key opened the API")
                continue
            }
            #expect(reason.contains("disabled"))
        }
        #expect(self.authenticator.isEnabled)
    }
}
