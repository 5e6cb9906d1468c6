import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardWebSocket

@Suite struct HandshakeHeadParserTests {
    /// Every vector gives the same result and leaves the same bytes whole, byte by byte and in random
    /// splits.
    private func parseEverySplit(_ bytes: [UInt8], kind: HTTPHeadParser.Kind = .request, maximumSize: Int = 8192,
                                 sourceLocation: SourceLocation = #_sourceLocation) -> HeadParseOutcome {
        let whole = HeadFeeding.whole(bytes, kind: kind, maximumSize: maximumSize)
        #expect(HeadFeeding.byteByByte(bytes, kind: kind, maximumSize: maximumSize) == whole, sourceLocation: sourceLocation)
        for seed in UInt64(1)...20 {
            #expect(HeadFeeding.randomSplits(bytes, kind: kind, maximumSize: maximumSize, seed: seed) == whole,
                    "seed \(seed)", sourceLocation: sourceLocation)
        }
        return whole
    }

    private func rejectionStatus(_ outcome: HeadParseOutcome) -> Int? {
        if case .failure(let rejection) = outcome.result { return rejection.status }
        return nil
    }

    @Test func rfcSampleRequestParses() throws {
        let outcome = parseEverySplit(requestHead(rfcSampleRequestLines))
        guard case .request(let request) = outcome.result else {
            Issue.record("expected a request, got \(outcome.result)")
            return
        }
        #expect(request.method == "GET")
        #expect(request.target == "/chat")
        #expect(request.versionMajor == 1 && request.versionMinor == 1)
        #expect(request.headers.count == 7)
        #expect(request.headers.first("sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==")
        #expect(request.headers.values(for: "SEC-WEBSOCKET-PROTOCOL") == ["chat, superchat"])
        #expect(outcome.unread.isEmpty)
    }

    @Test func pipelinedBytesAfterTheHeadStayUnread() {
        let frame: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        let outcome = parseEverySplit(requestHead(rfcSampleRequestLines) + frame)
        guard case .request = outcome.result else {
            Issue.record("expected a request, got \(outcome.result)")
            return
        }
        #expect(outcome.unread == frame)
    }

    @Test func incompleteHeadAsksForMoreAndKeepsNothingUnread() {
        var bytes = requestHead(rfcSampleRequestLines)
        bytes.removeLast(2)
        let outcome = parseEverySplit(bytes)
        #expect(outcome.result == .needMoreBytes)
    }

    @Test func fieldValuesAreTrimmedOfOptionalWhitespace() {
        let outcome = parseEverySplit(requestHead(["GET / HTTP/1.1", "Host:\t example.com \t", "X-Empty:", "X-Inner: a  b"]))
        guard case .request(let request) = outcome.result else {
            Issue.record("expected a request, got \(outcome.result)")
            return
        }
        #expect(request.headers.first("Host") == "example.com")
        #expect(request.headers.first("X-Empty") == "")
        #expect(request.headers.first("X-Inner") == "a  b")
    }

    @Test func leadingEmptyLinesBeforeARequestAreSkipped() {
        let outcome = parseEverySplit(Array("\r\n\r\n".utf8) + requestHead(["GET / HTTP/1.1", "Host: a"]))
        guard case .request(let request) = outcome.result else {
            Issue.record("expected a request, got \(outcome.result)")
            return
        }
        #expect(request.headers.first("Host") == "a")
    }

    @Test func responseHeadParses() {
        let head = requestHead(["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"])
        let outcome = parseEverySplit(head + [0x81, 0x00], kind: .response)
        #expect(outcome.result == .response(HandshakeResponse(
            status: 101, reason: "Switching Protocols",
            headers: HTTPHeaderFields([("Upgrade", "websocket"), ("Connection", "Upgrade")]))))
        #expect(outcome.unread == [0x81, 0x00])
    }

    @Test func responseWithEmptyReasonParses() {
        for line in ["HTTP/1.1 101 ", "HTTP/1.1 101"] {
            let outcome = parseEverySplit(requestHead([line, "Upgrade: websocket"]), kind: .response)
            guard case .response(let response) = outcome.result else {
                Issue.record("expected a response for \(line), got \(outcome.result)")
                continue
            }
            #expect(response.status == 101 && response.reason == "")
        }
    }

    @Test(arguments: [
        ("GET /chat HTTP/1.1\r\nHost: a\r\n Folded: x\r\n\r\n", 400),            // obs-fold
        ("GET /chat HTTP/1.1\r\nHost: a\r\n\tFolded\r\n\r\n", 400),              // obs-fold with HTAB
        ("GET /chat HTTP/1.1\r\nHost : a\r\n\r\n", 400),                         // whitespace before colon
        ("GET /chat HTTP/1.1\r\nHo(st: a\r\n\r\n", 400),                         // non-token name
        ("GET /chat HTTP/1.1\r\n: a\r\n\r\n", 400),                              // empty name
        ("GET /chat HTTP/1.1\r\nHost a\r\n\r\n", 400),                           // no colon
        ("GET /chat HTTP/1.1\r\nHost: a\u{01}b\r\n\r\n", 400),                   // control character
        ("GET /chat HTTP/1.1\r\nHost: a\u{7F}\r\n\r\n", 400),                    // DEL
        ("GET /chat HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400),                       // bare CR
        ("GET /chat HTTP/1.1\nHost: a\n\n", 400),                                // bare LF
        ("GET /chat HTTP/1.1\r\nHost: a\n\r\n", 400),                            // bare LF in a field
        ("GET  /chat HTTP/1.1\r\nHost: a\r\n\r\n", 400),                         // double SP
        ("GET /chat HTTP/1.1 \r\nHost: a\r\n\r\n", 400),                         // trailing SP
        ("GET /chat\r\nHost: a\r\n\r\n", 400),                                   // HTTP/0.9 style
        ("GET /ch at HTTP/1.1\r\nHost: a\r\n\r\n", 400),                         // space in target
        ("G@T /chat HTTP/1.1\r\nHost: a\r\n\r\n", 400),                          // non-token method
        ("GET /chat HTTP/1.10\r\nHost: a\r\n\r\n", 400),                         // malformed version
        ("GET /chat http/1.1\r\nHost: a\r\n\r\n", 400),                          // lowercase HTTP
        ("GET /chat HTTP/1.x\r\nHost: a\r\n\r\n", 400),                          // non-digit
        ("GET /chat HTTP/2.0\r\nHost: a\r\n\r\n", 505),                          // HTTP/2 framing on HTTP/1
        ("GET /chat HTTP/3.1\r\nHost: a\r\n\r\n", 505),
        ("GET /chat HTTP/0.9\r\nHost: a\r\n\r\n", 505),
    ])
    func malformedRequestHeadsAreRejected(head: String, status: Int) {
        #expect(rejectionStatus(parseEverySplit(Array(head.utf8))) == status, "\(head.debugDescription)")
    }

    @Test(arguments: [
        "HTTP/1.1 1O1 Switching Protocols\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 101Switching\r\n\r\n",
        "HTTP/1.1  101 Switching\r\n\r\n",
        "HTTP/1.1 101 Swi\u{00}tching\r\n\r\n",
        "HTTP/1.1\r\n\r\n",
        "\r\nHTTP/1.1 101 OK\r\n\r\n",
    ])
    func malformedResponseHeadsAreRejected(head: String) {
        #expect(rejectionStatus(parseEverySplit(Array(head.utf8), kind: .response)) == 400, "\(head.debugDescription)")
    }

    @Test func oversizedRequestHeadIs431() {
        let head = requestHead(["GET /chat HTTP/1.1", "Host: a", "Cookie: " + String(repeating: "x", count: 300)])
        #expect(rejectionStatus(parseEverySplit(head, maximumSize: 200)) == 431)
        // The limit counts every byte, line ends included: a head of exactly the limit passes.
        #expect(HeadFeeding.whole(head, kind: .request, maximumSize: head.count).result != .needMoreBytes)
        #expect(rejectionStatus(HeadFeeding.whole(head, kind: .request, maximumSize: head.count)) == nil)
        #expect(rejectionStatus(HeadFeeding.whole(head, kind: .request, maximumSize: head.count - 1)) == 431)
    }

    @Test func endlessLineWithoutLineFeedIs431AndDoesNotGrow() {
        var parser = HTTPHeadParser(kind: .request, maximumSize: 1024)
        var result = HTTPHeadParser.Result.needMoreBytes
        var chunks = 0
        while result == .needMoreBytes && chunks < 100 {
            var buffer = ByteBuffer(repeating: UInt8(ascii: "a"), count: 100)
            result = parser.parse(&buffer)
            chunks += 1
        }
        #expect(chunks == 11)
        guard case .failure(let rejection) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(rejection.status == 431)
    }

    @Test func tooManyFieldsIs431() {
        var lines = ["GET / HTTP/1.1"]
        for index in 0..<101 { lines.append("X-\(index): v") }
        #expect(rejectionStatus(parseEverySplit(requestHead(lines))) == 431)
        lines.removeLast()
        guard case .request(let request) = HeadFeeding.whole(requestHead(lines), kind: .request).result else {
            Issue.record("100 fields must be accepted")
            return
        }
        #expect(request.headers.count == 100)
    }

    @Test func parserIsFinishedAfterAResult() {
        var parser = HTTPHeadParser(kind: .request, maximumSize: 8192)
        var buffer = ByteBuffer(bytes: requestHead(rfcSampleRequestLines) + [1, 2, 3])
        let first = parser.parse(&buffer)
        #expect(buffer.readableBytes == 3)
        #expect(parser.parse(&buffer) == first)
        #expect(buffer.readableBytes == 3)
    }

    @Test func obsTextInValuesIsKept() {
        let outcome = parseEverySplit(Array("GET / HTTP/1.1\r\nX-Name: caf\u{E9}\r\n\r\n".utf8))
        guard case .request(let request) = outcome.result else {
            Issue.record("expected a request, got \(outcome.result)")
            return
        }
        #expect(request.headers.first("X-Name") == "caf\u{E9}")
    }

    /// Random bytes, and random mutations of a valid head, never crash the parser and give the same
    /// outcome however they are split.
    @Test func randomInputsAreSplitInvariant() {
        var generator = SeededGenerator(seed: 0x5EED)
        let valid = requestHead(rfcSampleRequestLines)
        let alphabet = Array("GET /HTP1.:\r\n \tabcZ\u{00}\u{7F}".utf8)
        for round in 0..<300 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] = alphabet.randomElement(using: &generator)!
                }
            } else {
                bytes = (0..<Int.random(in: 0...200, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            }
            let whole = HeadFeeding.whole(bytes, kind: round % 3 == 0 ? .response : .request, maximumSize: 256)
            #expect(HeadFeeding.byteByByte(bytes, kind: round % 3 == 0 ? .response : .request, maximumSize: 256) == whole)
            #expect(HeadFeeding.randomSplits(bytes, kind: round % 3 == 0 ? .response : .request, maximumSize: 256,
                                             seed: UInt64(round)) == whole)
        }
    }
}
