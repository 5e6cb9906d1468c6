import Testing
@testable import SwitchboardServer

@Suite struct OriginPolicyTests {
    static let allowList = ["https://app.example.com", "http://localhost:3000", "HTTPS://Admin.Example.com:443/", "https://[2001:db8::1]:8443"]

    func isAllowed(_ policy: OriginPolicy, _ origin: String?, host: String? = "switchboard.example.com") -> Bool {
        policy.decide(origin: origin, host: host) == .allow
    }

    @Test func withoutAnOriginHeaderTheClientIsNotABrowser() throws {
        let policy = try OriginPolicy(allowedOrigins: [])
        #expect(self.isAllowed(policy, nil))
        #expect(self.isAllowed(policy, nil, host: nil))
    }

    /// The server's own origin is allowed with an empty list: host and port compared, the scheme not.
    @Test func sameOrigin() throws {
        let policy = try OriginPolicy(allowedOrigins: [])
        let cases: [(origin: String, host: String, allowed: Bool)] = [
            ("http://localhost:8000", "localhost:8000", true),
            ("https://localhost:8000", "localhost:8000", true),
            ("https://example.com", "example.com", true),
            ("https://Example.COM", "EXAMPLE.com", true),
            ("http://example.com", "example.com:80", true),
            ("https://example.com:443", "example.com", true),
            ("https://example.com", "example.com:443", true),
            ("http://[::1]:8000", "[::1]:8000", true),
            ("http://example.com:8080", "example.com", false),
            ("http://example.com", "example.com:8080", false),
            ("https://example.com", "example.com:80", false),
            ("http://example.com", "example.com:443", false),
            ("https://evil.com", "example.com", false),
            ("https://example.com.evil.com", "example.com", false),
            ("https://evil.com", "evil.com.example.com", false),
            ("http://[::1]:8000", "[::2]:8000", false),
            ("https://example.com", "example.com:notaport", false),
        ]
        for item in cases {
            #expect(self.isAllowed(policy, item.origin, host: item.host) == item.allowed, "\(item)")
        }
        #expect(!self.isAllowed(policy, "https://example.com", host: nil), "no Host, nothing to compare with")
    }

    @Test func allowList() throws {
        let policy = try OriginPolicy(allowedOrigins: Self.allowList)
        let cases: [(origin: String, allowed: Bool)] = [
            ("https://app.example.com", true),
            ("https://APP.Example.com:443", true),
            ("http://localhost:3000", true),
            ("https://admin.example.com", true),
            ("https://[2001:DB8::1]:8443", true),
            ("http://app.example.com", false),
            ("https://app.example.com:8443", false),
            ("http://localhost:3001", false),
            ("http://localhost", false),
            ("https://app.example.com.evil.com", false),
            ("https://evilapp.example.com", false),
            ("https://evil.com", false),
        ]
        for item in cases {
            #expect(self.isAllowed(policy, item.origin) == item.allowed, "\(item)")
        }
    }

    @Test func nullIsRefusedUnlessEverythingIs() throws {
        let strict = try OriginPolicy(allowedOrigins: Self.allowList)
        guard case .refuse(let reason) = strict.decide(origin: "null", host: "null") else {
            Issue.record("null allowed")
            return
        }
        #expect(reason.contains("null"))
        let open = try OriginPolicy(allowedOrigins: ["https://app.example.com", "*"])
        #expect(self.isAllowed(open, "null"))
        #expect(self.isAllowed(open, "https://evil.com"))
    }

    @Test func malformedOriginsAreRefused() throws {
        let policy = try OriginPolicy(allowedOrigins: Self.allowList)
        let malformed = [
            "", "app.example.com", "https://", "https://app.example.com/", "https://app.example.com/path",
            "https://user@app.example.com", "https://app.example.com https://evil.com", "https://app.example.com:99999",
            "https://app.example.com:", "https://app.example.com?x", "1http://app.example.com", "https://app.exa<mple.com",
        ]
        for origin in malformed {
            #expect(policy.decide(origin: origin, host: "app.example.com") == .refuse(reason: "malformed Origin header"), "\(origin)")
        }
    }

    @Test func theReasonNamesTheOrigin() throws {
        let policy = try OriginPolicy(allowedOrigins: Self.allowList)
        #expect(policy.decide(origin: "https://evil.com", host: "app.example.com") == .refuse(reason: "Origin https://evil.com is not allowed"))
    }

    @Test func configurationMistakesAreReported() {
        for (entries, index) in [(["https://ok.example.com", "example.com"], 1), (["null"], 0), (["https://a.com/path"], 0), (["*.example.com"], 0)] {
            do {
                _ = try OriginPolicy(allowedOrigins: entries)
                Issue.record("accepted \(entries)")
            } catch {
                #expect(error.description.hasPrefix("allowedOrigins[\(index)]"), "\(error)")
            }
        }
    }
}
