import NIOCore
import Testing
@testable import SwitchboardWebSocket

@Suite struct ClientHandshakeTests {
    private let key = "dGhlIHNhbXBsZSBub25jZQ=="

    private func client(subprotocols: [String] = [], deflate: PerMessageDeflateConfiguration? = nil) -> ClientHandshake {
        ClientHandshake(host: "server.example.com", target: "/chat", key: key, subprotocols: subprotocols,
                        extraHeaders: HTTPHeaderFields(), deflate: deflate)
    }

    private func response(_ extra: [(String, String)] = [], removing: String? = nil, status: Int = 101) -> HandshakeResponse {
        var fields = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]
        fields.removeAll { $0.0 == removing }
        return HandshakeResponse(status: status, reason: status == 101 ? "Switching Protocols" : "Forbidden",
                                 headers: HTTPHeaderFields(fields + extra))
    }

    private func failure(_ result: Result<ClientHandshake.Acceptance, HandshakeError>) -> HandshakeError? {
        if case .failure(let error) = result { return error }
        return nil
    }

    @Test func requestFollowsRFC6455Section4_1() {
        let handshake = ClientHandshake(
            host: "server.example.com:8080", target: "/chat?room=1", key: key, subprotocols: ["chat", "superchat"],
            extraHeaders: HTTPHeaderFields([("Cookie", "a=b"), ("upgrade", "h2c"), ("Sec-WebSocket-Version", "8")]),
            deflate: .init(), origin: "http://example.com")
        var buffer = ByteBuffer()
        handshake.write(into: &buffer)
        #expect(String(buffer: buffer) == """
            GET /chat?room=1 HTTP/1.1\r
            Host: server.example.com:8080\r
            Upgrade: websocket\r
            Connection: Upgrade\r
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
            Origin: http://example.com\r
            Sec-WebSocket-Version: 13\r
            Sec-WebSocket-Protocol: chat, superchat\r
            Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r
            Cookie: a=b\r
            \r

            """)
    }

    @Test func headerValuesCannotInjectFields() {
        let handshake = ClientHandshake(host: "a", target: "/x\r\nEvil: 1", key: key, subprotocols: [],
                                        extraHeaders: HTTPHeaderFields([("X-Test", "v\r\nInjected: yes")]), deflate: nil)
        var buffer = ByteBuffer()
        handshake.write(into: &buffer)
        var parser = HTTPHeadParser(kind: .request, maximumSize: 4096)
        // The target now holds spaces, so the request-line is malformed rather than split in two; the
        // field value keeps its text on one line.
        #expect(!String(buffer: buffer).contains("\r\nInjected"))
        #expect(!String(buffer: buffer).contains("\r\nEvil"))
        if case .request = parser.parse(&buffer) { Issue.record("a target with spaces must not parse") }
    }

    @Test func validResponseIsAccepted() throws {
        let acceptance = try client().validate(response()).get()
        #expect(acceptance == ClientHandshake.Acceptance(subprotocol: nil, deflate: nil))
        // Header names and tokens are case-insensitive, and Connection may list other options.
        let lenient = HandshakeResponse(status: 101, reason: "", headers: HTTPHeaderFields([
            ("upgrade", "WebSocket"), ("connection", "keep-alive, upgrade"),
            ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ]))
        #expect(throws: Never.self) { try client().validate(lenient).get() }
    }

    @Test func nonSwitchingStatusFails() {
        let error = failure(client().validate(response(status: 403)))
        #expect(error?.kind == .unexpectedStatus)
        #expect(error?.message == "server answered 403 Forbidden")
    }

    @Test func missingUpgradeOrConnectionFails() {
        #expect(failure(client().validate(response(removing: "Upgrade")))?.kind == .missingUpgrade)
        #expect(failure(client().validate(response([("Upgrade", "h2c")])))?.kind == .missingUpgrade)
        #expect(failure(client().validate(response(removing: "Connection")))?.kind == .missingConnectionUpgrade)
    }

    @Test func acceptMismatchFails() {
        #expect(failure(client().validate(response(removing: "Sec-WebSocket-Accept")))?.kind == .acceptMismatch)
        let wrong = response([("Sec-WebSocket-Accept", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")], removing: "Sec-WebSocket-Accept")
        #expect(failure(client().validate(wrong))?.message == "Sec-WebSocket-Accept mismatch")
        let twice = response([("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")])
        #expect(failure(client().validate(twice))?.kind == .acceptMismatch)
    }

    @Test func subprotocolMustHaveBeenOffered() throws {
        let offered = client(subprotocols: ["chat", "superchat"])
        #expect(try offered.validate(response([("Sec-WebSocket-Protocol", "superchat")])).get().subprotocol == "superchat")
        #expect(try offered.validate(response()).get().subprotocol == nil)
        #expect(failure(offered.validate(response([("Sec-WebSocket-Protocol", "mqtt")])))?.kind == .unexpectedSubprotocol)
        #expect(failure(offered.validate(response([("Sec-WebSocket-Protocol", "chat, superchat")])))?.kind == .unexpectedSubprotocol)
        #expect(failure(client().validate(response([("Sec-WebSocket-Protocol", "chat")])))?.kind == .unexpectedSubprotocol)
    }

    @Test func extensionsMustHaveBeenOffered() throws {
        let deflateResponse = response([("Sec-WebSocket-Extensions", "permessage-deflate")])
        #expect(failure(client().validate(deflateResponse))?.kind == .unexpectedExtension)
        #expect(try client(deflate: .init()).validate(deflateResponse).get().deflate == PerMessageDeflateParameters())
        #expect(try client(deflate: .init()).validate(response()).get().deflate == nil)
        let other = response([("Sec-WebSocket-Extensions", "x-webkit-deflate-frame")])
        #expect(failure(client(deflate: .init()).validate(other))?.kind == .unexpectedExtension)
        let twice = response([("Sec-WebSocket-Extensions", "permessage-deflate"), ("Sec-WebSocket-Extensions", "permessage-deflate")])
        #expect(failure(client(deflate: .init()).validate(twice))?.kind == .unexpectedExtension)
        let malformed = response([("Sec-WebSocket-Extensions", "permessage-deflate;")])
        #expect(failure(client(deflate: .init()).validate(malformed))?.kind == .unexpectedExtension)
        let unknown = response([("Sec-WebSocket-Extensions", "permessage-deflate; foo")])
        #expect(failure(client(deflate: .init()).validate(unknown))?.kind == .invalidDeflateParameters)
        let repeated = response([("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits=9; client_max_window_bits=9")])
        #expect(failure(client(deflate: .init()).validate(repeated))?.kind == .invalidDeflateParameters)
    }

    @Test func malformedResponseHeadBecomesAnError() {
        var parser = HTTPHeadParser(kind: .response, maximumSize: 4096)
        var buffer = ByteBuffer(string: "HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n")
        guard case .failure(let rejection) = parser.parse(&buffer) else {
            Issue.record("expected a failure")
            return
        }
        #expect(HandshakeError(malformedResponse: rejection).kind == .malformedResponse)
    }
}
