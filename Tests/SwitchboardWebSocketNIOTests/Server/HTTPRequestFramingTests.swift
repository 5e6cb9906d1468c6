import NIOCore
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing
@testable import SwitchboardWebSocketNIO

/// The request boundaries of a keep-alive stream, found whole, byte by byte and in random splits alike.
@Suite struct HTTPRequestFramingTests {
    /// What a feeding saw: each head's target, and how many body bytes came between heads.
    struct Trace: Equatable {
        var targets: [String] = []
        var bodyBytes: [Int] = []
        var lost: String?
    }

    static func trace(_ pieces: [[UInt8]]) -> Trace {
        var framing = HTTPRequestFraming(maximumHeadSize: 1024)
        var trace = Trace()
        for piece in pieces {
            var input = ByteBuffer(bytes: piece)
            while input.readableBytes > 0 {
                let before = input.readableBytes
                switch framing.advance(&input) {
                case .partOfHead: break
                case .head(let head):
                    trace.targets.append(head.target)
                    trace.bodyBytes.append(0)
                case .body: trace.bodyBytes[trace.bodyBytes.count - 1] += before - input.readableBytes
                case .lost(let reason):
                    trace.lost = reason
                    return trace
                }
            }
        }
        return trace
    }

    static let keepAliveStream =
        "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
        + "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
        + "POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\nTrailer: yes\r\n\r\n"
        + "POST /four HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\nabc\n0\n\n"
        + "PUT /five HTTP/1.1\r\nContent-Length: 2, 2\r\n\r\nok"
        + RawHTTP.upgradeRequest(target: "/ws")

    @Test func headsAndBodiesAreFoundHoweverTheStreamIsSplit() {
        let expected = Trace(targets: ["/one", "/two", "/three", "/four", "/five", "/ws"],
                             bodyBytes: [0, 5, 55, 9, 2, 0])
        for pieces in Chunking.feedings(of: Array(Self.keepAliveStream.utf8), seeds: 1...50) {
            #expect(Self.trace(pieces) == expected)
        }
    }

    @Test func aChunkedBodyEndsExactlyAtItsLastCRLF() {
        var framing = HTTPRequestFraming(maximumHeadSize: 1024)
        var input = ByteBuffer(string: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET")
        guard case .head = framing.advance(&input) else { Issue.record("no head"); return }
        #expect(framing.advance(&input) == .body)
        #expect(String(buffer: input) == "GET")
        #expect(framing.advance(&input) == .partOfHead)
    }

    @Test func theFirstRequestsBodyIsFollowedWhenAnotherParserReadItsHead() {
        let head = HandshakeRequest(method: "POST", target: "/", headers: HTTPHeaderFields([("Content-Length", "3")]))
        var framing = HTTPRequestFraming(following: head, maximumHeadSize: 1024)
        var input = ByteBuffer(string: "abcGET /next HTTP/1.1\r\n\r\n")
        #expect(framing.advance(&input) == .body)
        #expect(String(buffer: input) == "GET /next HTTP/1.1\r\n\r\n")
        guard case .head(let next) = framing.advance(&input) else { Issue.record("no second head"); return }
        #expect(next.target == "/next")
    }

    /// Streams whose boundaries cannot be known are given up (the HTTP side answers 400 and closes) rather
    /// than guessed, which could smuggle a request past the check.
    @Test(arguments: [
        "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
        "HTTP/1.1 200 OK\r\n\r\n",
    ])
    func anUnframeableStreamIsLost(_ stream: String) {
        // Bytes that would be a next request if the framing were followed.
        let bytes = Array((stream + "GET /next HTTP/1.1\r\n\r\n").utf8)
        for pieces in Chunking.feedings(of: bytes, seeds: 1...5) {
            #expect(Self.trace(pieces).lost != nil, "\(stream.debugDescription)")
        }
    }

    @Test func chunkLinesAreBounded() {
        let stream = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 2000)
        #expect(Self.trace([Array(stream.utf8)]).lost?.contains("longer than 1024") == true)
    }

    @Test func upgradesAndConnectSwitchProtocols() {
        func request(method: String = "GET", _ fields: [(String, String)]) -> HandshakeRequest {
            HandshakeRequest(method: method, target: "/", headers: HTTPHeaderFields(fields))
        }
        #expect(request([("Upgrade", "h2c"), ("Connection", "keep-alive, Upgrade")]).switchesProtocols)
        #expect(request(method: "CONNECT", []).switchesProtocols)
        // An Upgrade field the Connection field does not name is only informative (RFC 9110 §7.8).
        #expect(!request([("Upgrade", "h2c")]).switchesProtocols)
        #expect(!request([("Connection", "keep-alive")]).switchesProtocols)
    }
}
