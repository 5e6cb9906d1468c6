import NIOCore
import SwitchboardWebSocket

/// Follows a stream of pipelined HTTP/1.1 requests from one boundary to the next (RFC 9112 §6), so that a
/// server sharing its port with an HTTP application sees every request head of a keep-alive connection,
/// not only the first: a WebSocket upgrade may come on any of them (nginx reuses pooled upstream
/// connections for upgrades).
///
/// Pure: bytes in, steps out. It parses heads (with the handshake's parser and size limit) and skips
/// bodies, by `Content-Length` or the chunked coding; it never keeps body bytes.
struct HTTPRequestFraming {
    /// What one ``advance(_:)`` consumed from the front of its input.
    enum Step: Equatable {
        /// Bytes of a request head that is not complete yet: all readable bytes were consumed.
        case partOfHead
        /// The rest of a head, which is now complete. The next step reads what follows it (its body, or the
        /// next request).
        case head(HandshakeRequest)
        /// Bytes of the current request's body (chunk framing included).
        case body
        /// The stream cannot be followed any further (a head the parser refuses, a broken body framing):
        /// nothing was consumed, and nothing will be. The HTTP side answers such bytes itself (400) and
        /// closes.
        case lost(String)
    }

    private enum State {
        case head(HTTPHeadParser)
        case fixedBody(remaining: Int)
        case chunkedBody(ChunkedBodyFraming)
        case lost(String)
    }

    private var state: State
    private let maximumHeadSize: Int

    /// Framing that expects a request head first.
    init(maximumHeadSize: Int) {
        self.maximumHeadSize = maximumHeadSize
        self.state = .head(HTTPHeadParser(kind: .request, maximumSize: maximumHeadSize))
    }

    /// Framing positioned just after `head`, whose bytes someone else has parsed: its body comes next.
    init(following head: HandshakeRequest, maximumHeadSize: Int) {
        self.init(maximumHeadSize: maximumHeadSize)
        self.state = self.stateAfter(head)
    }

    /// Consumes bytes of the current request part from the front of `input` (at least one when any are
    /// readable, except for ``Step/lost(_:)``).
    mutating func advance(_ input: inout ByteBuffer) -> Step {
        switch self.state {
        case .head(var parser):
            switch parser.parse(&input) {
            case .needMoreBytes:
                self.state = .head(parser)
                return .partOfHead
            case .request(let head):
                self.state = self.stateAfter(head)
                return .head(head)
            case .response:
                return self.lose("expected an HTTP request")
            case .failure(let rejection):
                return self.lose(rejection.reason)
            }
        case .fixedBody(let remaining):
            let count = min(remaining, input.readableBytes)
            input.moveReaderIndex(forwardBy: count)
            self.state = count == remaining ? self.nextHead() : .fixedBody(remaining: remaining - count)
            return .body
        case .chunkedBody(var body):
            switch body.consume(&input) {
            case .needMoreBytes:
                self.state = .chunkedBody(body)
            case .complete:
                self.state = self.nextHead()
            case .malformed(let reason):
                return self.lose(reason)
            }
            return .body
        case .lost(let reason):
            return .lost(reason)
        }
    }

    private mutating func lose(_ reason: String) -> Step {
        self.state = .lost(reason)
        return .lost(reason)
    }

    private func nextHead() -> State {
        .head(HTTPHeadParser(kind: .request, maximumSize: self.maximumHeadSize))
    }

    /// RFC 9112 §6.3: a request's body is chunked when `Transfer-Encoding` ends with `chunked` (any other
    /// coding there cannot be framed: 400), else `Content-Length` bytes, else empty.
    private func stateAfter(_ head: HandshakeRequest) -> State {
        let codings = head.headers.listElements("Transfer-Encoding")
        if let last = codings.last {
            guard last.lowercased() == "chunked" else { return .lost("a request body whose transfer coding is not chunked") }
            // §6.1: both fields is a smuggling attempt; llhttp refuses it, and so does this framing.
            guard !head.headers.contains("Content-Length") else { return .lost("both Transfer-Encoding and Content-Length") }
            return .chunkedBody(ChunkedBodyFraming(maximumLineSize: self.maximumHeadSize))
        }
        let lengths = head.headers.listElements("Content-Length")
        guard let first = lengths.first else { return self.nextHead() }
        // §8.6: several values are acceptable only when they are all the same.
        guard lengths.allSatisfy({ $0 == first }), first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let length = Int(first) else {
            return .lost("an invalid Content-Length")
        }
        return length == 0 ? self.nextHead() : .fixedBody(remaining: length)
    }
}

extension HandshakeRequest {
    /// Whether an HTTP/1.1 parser stops reading after this request because it asks to switch protocols:
    /// an `Upgrade` field named in `Connection` (RFC 9110 §7.8), or a CONNECT (§9.3.6). NIOHTTP1 stops at
    /// such a request, so a keep-alive connection must not carry anything after it to the HTTP side.
    var switchesProtocols: Bool {
        self.method == "CONNECT" || (self.headers.contains("Upgrade") && self.headers.listContainsToken("Connection", "upgrade"))
    }
}
