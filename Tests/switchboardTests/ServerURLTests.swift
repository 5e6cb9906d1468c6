import Testing
@testable import switchboard

@Suite struct ServerURLTests {
    @Test(arguments: [
        ("ws://127.0.0.1:8000", "ws://127.0.0.1:8000/connection/websocket"),
        ("ws://127.0.0.1:8000/", "ws://127.0.0.1:8000/connection/websocket"),
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/connection/websocket"),
        ("HTTPS://rt.example.com", "wss://rt.example.com/connection/websocket"),
        ("wss://rt.example.com:8443", "wss://rt.example.com:8443/connection/websocket"),
        ("127.0.0.1:8000", "ws://127.0.0.1:8000/connection/websocket"),
        ("[::1]:8000", "ws://[::1]:8000/connection/websocket"),
        ("ws://127.0.0.1:8000/connection/websocket", "ws://127.0.0.1:8000/connection/websocket"),
        ("ws://127.0.0.1:8000/custom/ws/", "ws://127.0.0.1:8000/custom/ws"),
        ("ws://127.0.0.1:8000?token=abc", "ws://127.0.0.1:8000/connection/websocket?token=abc"),
        ("http://h/rt/connection/websocket?x=1", "ws://h/rt/connection/websocket?x=1"),
    ])
    func webSocketEndpoint(typed: String, expected: String) throws {
        #expect(try ServerURL(typed).webSocketURL == expected)
    }

    @Test(arguments: [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/publish"),
        ("ws://127.0.0.1:8000/", "http://127.0.0.1:8000/api/publish"),
        ("wss://rt.example.com", "https://rt.example.com/api/publish"),
        ("https://example.com/switchboard/?ignored=1", "https://example.com/switchboard/api/publish"),
    ])
    func httpAPIEndpoint(typed: String, expected: String) throws {
        #expect(try ServerURL(typed).httpURL(endpoint: "/api/publish") == expected)
    }

    @Test(arguments: ["ftp://127.0.0.1:8000", "ws://", "http:///path", "ws://host/#fragment", ""])
    func rejects(typed: String) {
        #expect(throws: ServerURL.Invalid.self) { try ServerURL(typed) }
    }

    @Test func hostAndPortForTheHTTPRequest() throws {
        func hostAndPort(_ url: String) throws -> (String, Int) {
            try HTTPAPIRequest(url: ServerURL(url), endpoint: "/api/publish", apiKey: nil, body: []).hostAndPort()
        }
        #expect(try hostAndPort("http://127.0.0.1:8000") == ("127.0.0.1", 8000))
        #expect(try hostAndPort("http://example.com") == ("example.com", 80))
        #expect(try hostAndPort("https://example.com") == ("example.com", 443))
        #expect(try hostAndPort("http://[::1]:9000") == ("::1", 9000))
        #expect(try hostAndPort("https://[::1]") == ("::1", 443))
        #expect(throws: HTTPAPIRequest.Failure.self) { try hostAndPort("http://example.com:http") }
    }
}
