import NIOCore
import Testing
@testable import SwitchboardWebSocket

@Suite struct ServerHandshakeTests {
    private func rejection(_ request: HandshakeRequest, configuration: ServerHandshake.Configuration = .init())
        -> HandshakeRejection? {
        if case .failure(let rejection) = ServerHandshake.accept(request, configuration: configuration) { return rejection }
        return nil
    }

    @Test func rfcSampleRequestIsAccepted() throws {
        guard case .request(let request) = HeadFeeding.whole(requestHead(rfcSampleRequestLines), kind: .request).result else {
            Issue.record("the RFC sample must parse")
            return
        }
        let acceptance = try ServerHandshake.accept(request, configuration: .init(subprotocols: ["chat"])).get()
        #expect(acceptance.subprotocol == "chat")
        #expect(acceptance.deflate == nil)
        #expect(acceptance.response.status == 101)
        #expect(acceptance.response.headers.first("Upgrade") == "websocket")
        #expect(acceptance.response.headers.first("Connection") == "Upgrade")
        #expect(acceptance.response.headers.first("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        #expect(acceptance.response.headers.first("Sec-WebSocket-Protocol") == "chat")
        #expect(!acceptance.response.headers.contains("Sec-WebSocket-Extensions"))

        var buffer = ByteBuffer()
        acceptance.write(into: &buffer)
        #expect(String(buffer: buffer) == """
            HTTP/1.1 101 Switching Protocols\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r
            Sec-WebSocket-Protocol: chat\r
            \r

            """)
    }

    @Test func headerNamesAndTokensAreCaseInsensitive() throws {
        let request = HandshakeRequest(target: "/", headers: HTTPHeaderFields([
            ("host", "a.example"), ("UPGRADE", "WebSocket"), ("connection", "keep-alive, UPGRADE"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("SEC-WEBSOCKET-VERSION", "13"),
        ]))
        #expect(throws: Never.self) { try ServerHandshake.accept(request, configuration: .init()).get() }
    }

    @Test func upgradeListWithOtherProtocolsIsAccepted() {
        let request = handshakeRequest(replacing: "Upgrade", with: "h2c, websocket")
        #expect(rejection(request) == nil)
    }

    @Test func postIs405WithAllow() {
        let rejected = rejection(handshakeRequest(method: "POST"))
        #expect(rejected?.status == 405)
        #expect(rejected?.response.headers.first("Allow") == "GET")
    }

    @Test func http10Is400() {
        #expect(rejection(handshakeRequest(versionMinor: 0))?.status == 400)
    }

    @Test func http2VersionIs505() {
        var request = handshakeRequest()
        request.versionMajor = 2
        request.versionMinor = 0
        #expect(rejection(request)?.status == 505)
    }

    @Test func missingOrRepeatedHostIs400() {
        #expect(rejection(handshakeRequest(replacing: "Host", with: nil))?.reason == "missing Host header")
        #expect(rejection(handshakeRequest(adding: [("Host", "other.example")]))?.status == 400)
        #expect(rejection(handshakeRequest(replacing: "Host", with: ""))?.status == 400)
    }

    @Test func requestWithABodyIs400() {
        #expect(rejection(handshakeRequest(adding: [("Content-Length", "5")]))?.status == 400)
        #expect(rejection(handshakeRequest(adding: [("Transfer-Encoding", "chunked")]))?.status == 400)
        #expect(rejection(handshakeRequest(adding: [("Content-Length", "0")])) == nil)
    }

    @Test func missingUpgradeIs426WithUpgradeHeader() {
        for value in [nil, "h2c", "websocket2", "web socket"] as [String?] {
            let rejected = rejection(handshakeRequest(replacing: "Upgrade", with: value))
            #expect(rejected?.status == 426, "Upgrade: \(value ?? "absent")")
            #expect(rejected?.response.headers.first("Upgrade") == "websocket")
        }
        #expect(rejection(handshakeRequest(replacing: "Upgrade", with: nil))?.reason == "missing Upgrade: websocket header")
    }

    /// What a server sharing its port with HTTP uses to tell an opening handshake (valid or not) from a
    /// plain request: the `websocket` token in `Upgrade`, in any case, alone or in a list.
    @Test func onlyAnUpgradeFieldListingWebSocketAsksForTheUpgrade() {
        for value in ["websocket", "WebSocket", "h2c, websocket", " WEBSOCKET ,h2c"] {
            #expect(handshakeRequest(replacing: "Upgrade", with: value).asksForWebSocketUpgrade, "Upgrade: \(value)")
        }
        for value in [nil, "h2c", "websocket2", "web socket", ""] as [String?] {
            #expect(!handshakeRequest(replacing: "Upgrade", with: value).asksForWebSocketUpgrade, "Upgrade: \(value ?? "absent")")
        }
        // A broken handshake still asks for the upgrade: it gets the handshake's precise rejection.
        #expect(handshakeRequest(method: "POST", versionMinor: 0).asksForWebSocketUpgrade)
    }

    @Test func missingConnectionUpgradeIs400() {
        for value in [nil, "keep-alive", "upgraded", ""] as [String?] {
            #expect(rejection(handshakeRequest(replacing: "Connection", with: value))?.status == 400,
                    "Connection: \(value ?? "absent")")
        }
    }

    @Test func missingDuplicateOrBadKeyIs400() {
        #expect(rejection(handshakeRequest(replacing: "Sec-WebSocket-Key", with: nil))?.reason == "missing Sec-WebSocket-Key header")
        #expect(rejection(handshakeRequest(adding: [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")]))?.status == 400)
        for key in ["dGhlIHNhbXBsZSBub25j", "dGhlIHNhbXBsZSBub25jZXg=", "not base64 at all!!!!!!", "",
                    "dGhlIHNhbXBsZSBub25jZQ==, dGhlIHNhbXBsZSBub25jZQ=="] {
            #expect(rejection(handshakeRequest(replacing: "Sec-WebSocket-Key", with: key))?.status == 400, "key \(key)")
        }
    }

    @Test func wrongVersionIs426WithSupportedVersion() {
        for version in [nil, "8", "12, 13", "13, 13", " "] as [String?] {
            let rejected = rejection(handshakeRequest(replacing: "Sec-WebSocket-Version", with: version))
            #expect(rejected?.status == 426, "version \(version ?? "absent")")
            #expect(rejected?.response.headers.first("Sec-WebSocket-Version") == "13")
        }
        #expect(rejection(handshakeRequest(adding: [("Sec-WebSocket-Version", "13")]))?.status == 426)
    }

    @Test func rejectionRendersACompleteResponse() {
        let rejected = rejection(handshakeRequest(replacing: "Sec-WebSocket-Version", with: "8"))!
        var buffer = ByteBuffer()
        rejected.write(into: &buffer)
        let text = String(buffer: buffer)
        #expect(text.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
        #expect(text.contains("\r\nSec-WebSocket-Version: 13\r\n"))
        #expect(text.contains("\r\nConnection: Upgrade, close\r\n"))
        #expect(text.hasSuffix("\r\n\r\n" + rejected.reason + "\n"))
        #expect(rejected.response.headers.first("Content-Length") == String(rejected.body.utf8.count))
        // The rendered head parses back.
        var parser = HTTPHeadParser(kind: .response, maximumSize: 4096)
        guard case .response(let head) = parser.parse(&buffer) else {
            Issue.record("rendered rejection must parse")
            return
        }
        #expect(head == rejected.response)
        #expect(String(buffer: buffer) == rejected.body)
    }

    @Test func policyRefusalCarriesItsHeaders() {
        let refused = HandshakeRejection.refused(status: 401, reason: "missing token",
                                                 headers: HTTPHeaderFields([("WWW-Authenticate", "Bearer")]))
        #expect(refused.status == 401)
        #expect(refused.response.reason == "Unauthorized")
        #expect(refused.response.headers.first("WWW-Authenticate") == "Bearer")
        #expect(HandshakeRejection.refused(status: 200, reason: "not a refusal").status == 400)
    }

    @Test func subprotocolIsTheServersFirstPreferenceAmongOffered() throws {
        let request = handshakeRequest(adding: [("Sec-WebSocket-Protocol", "v1.chat, v2.chat"),
                                                ("Sec-WebSocket-Protocol", "v3.chat")])
        let configuration = ServerHandshake.Configuration(subprotocols: ["v3.chat", "v2.chat"])
        #expect(try ServerHandshake.accept(request, configuration: configuration).get().subprotocol == "v3.chat")
        let other = ServerHandshake.Configuration(subprotocols: ["mqtt"])
        let acceptance = try ServerHandshake.accept(request, configuration: other).get()
        #expect(acceptance.subprotocol == nil)
        #expect(!acceptance.response.headers.contains("Sec-WebSocket-Protocol"))
        // Never a protocol the client did not offer, even when the server supports some.
        #expect(try ServerHandshake.accept(handshakeRequest(), configuration: configuration).get().subprotocol == nil)
        // Names are compared exactly.
        let upper = ServerHandshake.Configuration(subprotocols: ["V1.CHAT"])
        #expect(try ServerHandshake.accept(request, configuration: upper).get().subprotocol == nil)
    }

    @Test func subprotocolThatIsNotATokenIs400() {
        #expect(rejection(handshakeRequest(adding: [("Sec-WebSocket-Protocol", "chat, \"quoted\"")]))?.status == 400)
    }

    @Test func deflateIsNotNegotiatedWithoutConfiguration() throws {
        let request = handshakeRequest(adding: [("Sec-WebSocket-Extensions", "permessage-deflate")])
        let acceptance = try ServerHandshake.accept(request, configuration: .init()).get()
        #expect(acceptance.deflate == nil)
        #expect(!acceptance.response.headers.contains("Sec-WebSocket-Extensions"))
    }

    @Test func malformedExtensionsHeaderNegotiatesNothing() throws {
        let request = handshakeRequest(adding: [("Sec-WebSocket-Extensions", "permessage-deflate; =")])
        let acceptance = try ServerHandshake.accept(request, configuration: .init(deflate: .init())).get()
        #expect(acceptance.deflate == nil)
    }

    @Test func deflateIsNegotiatedAndAnswered() throws {
        let request = handshakeRequest(adding: [("Sec-WebSocket-Extensions", "x-webkit-deflate-frame"),
                                                ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")])
        let acceptance = try ServerHandshake.accept(request, configuration: .init(deflate: .init())).get()
        #expect(acceptance.deflate == PerMessageDeflateParameters())
        #expect(acceptance.response.headers.first("Sec-WebSocket-Extensions") == "permessage-deflate")
    }
}
