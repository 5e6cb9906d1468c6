import NIOCore

/// An incremental parser of one HTTP/1.1 message head: a handshake request (server side) or its
/// response (client side).
///
/// Feed it bytes as they arrive. It consumes bytes up to and including the blank line that ends the
/// head and never reads past it, so bytes pipelined after the head (a client's first WebSocket frames,
/// or a server's first frames after its 101) stay unread in the buffer for the frame decoder.
///
/// The grammar is strict RFC 9112:
/// - `request-line = method SP request-target SP HTTP-version CRLF` (§3) and
///   `status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF` (§4), with
///   `HTTP-version = "HTTP/" DIGIT "." DIGIT` (§2.3).
/// - `field-line = field-name ":" OWS field-value OWS` (§5) with token names.
/// - Lines end with CRLF only. RFC 9112 §2.2 lets a recipient accept a bare LF, but two parsers that
///   disagree on line ends are the root of request smuggling, every browser and WebSocket library
///   sends CRLF, and a handshake is never typed by hand; so a bare LF or bare CR is a 400.
/// - Refused with 400: obs-fold (§5.2, "a server that receives an obs-fold in a request message ...
///   MUST either reject the message by sending a 400"), whitespace between a field name and its colon
///   (§5.1, "A server MUST reject, with a response status code of 400 (Bad Request), any received
///   request message that contains whitespace between a header field name and colon"), names that are
///   not tokens, and control characters (anything below SP but HTAB, and DEL) in a field value.
/// - Empty lines before a request-line are skipped (§2.2: "a server that is expecting to receive and
///   parse a request-line SHOULD ignore at least one empty line (CRLF) received prior to the
///   request-line"); they count toward the size limit.
/// - A status-line without the SP before an empty reason phrase is accepted: the reason phrase carries
///   no meaning (§4: "A client SHOULD ignore the reason-phrase content") and some servers omit it.
///
/// Limits: the whole head, line ends included, may be at most `maximumSize` bytes and hold at most
/// `maximumFieldCount` fields; a request over either limit is a 431 (RFC 6585 §5). The parser keeps at
/// most `maximumSize` bytes of the head at any time, whatever it is fed.
///
/// Field values are decoded as UTF-8; obs-text bytes that are not valid UTF-8 become U+FFFD (the
/// handshake only inspects ASCII fields). For a response head the ``HandshakeRejection`` status is
/// only descriptive: the client turns it into a ``HandshakeError`` with
/// ``HandshakeError/init(malformedResponse:)``.
///
/// After it has returned a head or a failure the parser is done: further calls return the same result
/// and consume nothing.
public struct HTTPHeadParser: Sendable {
    /// Which head to expect.
    public enum Kind: Sendable, Hashable {
        case request
        case response
    }

    /// The outcome of one ``parse(_:)`` call.
    public enum Result: Sendable, Hashable {
        /// All readable bytes were consumed and kept; the head is not complete yet.
        case needMoreBytes
        /// A complete request head; bytes after its blank line are still readable in the buffer.
        case request(HandshakeRequest)
        /// A complete response head; bytes after its blank line are still readable in the buffer.
        case response(HandshakeResponse)
        /// The bytes are not an acceptable head; answer (server) or fail (client) and close.
        case failure(HandshakeRejection)
    }

    /// Whether a request head or a response head is expected.
    public let kind: Kind
    /// The largest head accepted, in bytes, line ends included.
    public let maximumSize: Int
    /// The most header fields accepted.
    public let maximumFieldCount: Int

    private enum StartLine: Sendable {
        case request(method: String, target: String, versionMajor: Int, versionMinor: Int)
        case response(status: Int, reason: String)
    }

    private enum State: Sendable {
        case startLine
        case fields(StartLine, HTTPHeaderFields)
        case finished(Result)
    }

    private var state: State = .startLine
    /// The bytes of the current, unfinished line (without its LF).
    private var line: [UInt8] = []
    /// Bytes of the head consumed so far, line ends included.
    private var consumed = 0

    /// - Parameters:
    ///   - kind: a request head (server) or a response head (client).
    ///   - maximumSize: the largest head accepted, in bytes, line ends included (8 KiB is plenty for
    ///     browsers; cookies can make heads larger).
    ///   - maximumFieldCount: the most header fields accepted; bounds the per-field bookkeeping that
    ///     `maximumSize` alone would not (a field line can be 4 bytes long).
    public init(kind: Kind, maximumSize: Int, maximumFieldCount: Int = 100) {
        self.kind = kind
        self.maximumSize = max(0, maximumSize)
        self.maximumFieldCount = max(0, maximumFieldCount)
    }

    /// Consumes head bytes from `buffer`; see ``Result``.
    public mutating func parse(_ buffer: inout ByteBuffer) -> Result {
        if case .finished(let result) = state { return result }
        while buffer.readableBytes > 0 {
            let budget = maximumSize - consumed
            let lineFeedOffset = buffer.withUnsafeReadableBytes { $0.firstIndex(of: HTTPGrammar.lineFeed) }
            guard let lineFeedOffset else {
                guard buffer.readableBytes <= budget else { return finish(tooLarge()) }
                buffer.withUnsafeReadableBytes { line.append(contentsOf: $0) }
                consumed += buffer.readableBytes
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                return .needMoreBytes
            }
            let lineLength = lineFeedOffset + 1
            guard lineLength <= budget else { return finish(tooLarge()) }
            buffer.withUnsafeReadableBytes { line.append(contentsOf: $0[..<lineFeedOffset]) }
            consumed += lineLength
            buffer.moveReaderIndex(forwardBy: lineLength)
            if let result = completeLine() { return finish(result) }
        }
        return .needMoreBytes
    }

    private mutating func finish(_ result: Result) -> Result {
        state = .finished(result)
        line = []
        return result
    }

    private func tooLarge() -> Result {
        .failure(HandshakeRejection(.headTooLarge, "the \(kindName) head is larger than \(maximumSize) bytes"))
    }

    private var kindName: String { kind == .request ? "request" : "response" }

    private func malformed(_ reason: String) -> Result {
        .failure(HandshakeRejection(.malformedHead, reason))
    }

    /// Handles the line in `line` whose LF was just consumed; returns a result when the head is
    /// complete or refused.
    private mutating func completeLine() -> Result? {
        // RFC 9112 §2.2: "the line terminator for the start-line and fields is the sequence CRLF".
        guard line.last == HTTPGrammar.carriageReturn else {
            return malformed("line ends with a bare LF instead of CRLF")
        }
        line.removeLast()
        defer { line.removeAll(keepingCapacity: true) }
        if line.contains(HTTPGrammar.carriageReturn) {
            return malformed("bare CR inside a line")
        }
        switch state {
        case .startLine:
            if line.isEmpty && kind == .request { return nil }
            switch kind == .request ? parseRequestLine() : parseStatusLine() {
            case .success(let startLine):
                state = .fields(startLine, HTTPHeaderFields())
                return nil
            case .failure(let rejection):
                return .failure(rejection)
            }
        case .fields(let startLine, var headers):
            // Drop the state's reference so that `headers` is uniquely owned and appending stays O(1).
            state = .startLine
            if line.isEmpty { return headComplete(startLine, headers) }
            if let failure = parseFieldLine(into: &headers) { return failure }
            state = .fields(startLine, headers)
            return nil
        case .finished(let result):
            return result
        }
    }

    private func headComplete(_ startLine: StartLine, _ headers: HTTPHeaderFields) -> Result {
        switch startLine {
        case .request(let method, let target, let major, let minor):
            return .request(HandshakeRequest(method: method, target: target, versionMajor: major,
                                             versionMinor: minor, headers: headers))
        case .response(let status, let reason):
            return .response(HandshakeResponse(status: status, reason: reason, headers: headers))
        }
    }

    /// `request-line = method SP request-target SP HTTP-version` (RFC 9112 §3).
    private func parseRequestLine() -> Swift.Result<StartLine, HandshakeRejection> {
        let parts = line.split(separator: HTTPGrammar.space, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .failure(HandshakeRejection(.malformedHead, "malformed request line"))
        }
        // RFC 9112 §3.1: "method = token".
        guard HTTPGrammar.isToken(parts[0]) else {
            return .failure(HandshakeRejection(.malformedHead, "request method is not a token"))
        }
        // RFC 9112 §3.2: the request-target is URI syntax: visible ASCII, no whitespace.
        guard !parts[1].isEmpty, parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return .failure(HandshakeRejection(.malformedHead, "malformed request target"))
        }
        guard let (major, minor) = Self.parseVersion(parts[2]) else {
            return .failure(HandshakeRejection(.malformedHead, "malformed HTTP version in request line"))
        }
        guard major == 1 else {
            return .failure(HandshakeRejection(.httpVersionNotSupported, "HTTP/\(major).\(minor) is not supported; use HTTP/1.1"))
        }
        return .success(.request(method: String(decoding: parts[0], as: UTF8.self),
                                 target: String(decoding: parts[1], as: UTF8.self),
                                 versionMajor: major, versionMinor: minor))
    }

    /// `status-line = HTTP-version SP status-code SP [ reason-phrase ]` (RFC 9112 §4).
    private func parseStatusLine() -> Swift.Result<StartLine, HandshakeRejection> {
        let bytes = line[...]
        guard bytes.count >= 12, let (major, minor) = Self.parseVersion(bytes.prefix(8)),
              bytes[bytes.startIndex + 8] == HTTPGrammar.space else {
            return .failure(HandshakeRejection(.malformedHead, "malformed status line"))
        }
        guard major == 1 else {
            return .failure(HandshakeRejection(.httpVersionNotSupported, "HTTP/\(major).\(minor) is not supported in a response"))
        }
        // RFC 9112 §4: "status-code = 3DIGIT"; RFC 9110 §15 defines 100...599.
        var status = 0
        for byte in bytes[(bytes.startIndex + 9)..<(bytes.startIndex + 12)] {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else {
                return .failure(HandshakeRejection(.malformedHead, "status code is not three digits"))
            }
            status = status * 10 + Int(byte - UInt8(ascii: "0"))
        }
        guard (100...599).contains(status) else {
            return .failure(HandshakeRejection(.malformedHead, "status code \(status) is out of range"))
        }
        var reason = bytes[(bytes.startIndex + 12)...]
        if let first = reason.first {
            guard first == HTTPGrammar.space else {
                return .failure(HandshakeRejection(.malformedHead, "malformed status line"))
            }
            reason = reason.dropFirst()
        }
        // RFC 9112 §4: "reason-phrase = 1*( HTAB / SP / VCHAR / obs-text )".
        guard reason.allSatisfy(HTTPGrammar.isFieldValueByte) else {
            return .failure(HandshakeRejection(.malformedHead, "control character in reason phrase"))
        }
        return .success(.response(status: status, reason: String(decoding: reason, as: UTF8.self)))
    }

    /// `HTTP-version = "HTTP/" DIGIT "." DIGIT` (RFC 9112 §2.3), exactly eight bytes.
    private static func parseVersion(_ bytes: ArraySlice<UInt8>) -> (Int, Int)? {
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8) else { return nil }
        let major = bytes[bytes.startIndex + 5], dot = bytes[bytes.startIndex + 6], minor = bytes[bytes.startIndex + 7]
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        guard digits.contains(major), dot == UInt8(ascii: "."), digits.contains(minor) else { return nil }
        return (Int(major - UInt8(ascii: "0")), Int(minor - UInt8(ascii: "0")))
    }

    /// `field-line = field-name ":" OWS field-value OWS` (RFC 9112 §5); appends the field or returns
    /// the failure.
    private func parseFieldLine(into headers: inout HTTPHeaderFields) -> Result? {
        // RFC 9112 §5.2: "obs-fold = OWS CRLF RWS" — a field line that starts with whitespace.
        if let first = line.first, HTTPGrammar.isWhitespace(first) {
            return malformed("obsolete line folding (a header line starting with whitespace)")
        }
        guard let colon = line.firstIndex(of: HTTPGrammar.colon) else {
            return malformed("header line without a colon")
        }
        let name = line[..<colon]
        guard !name.isEmpty else { return malformed("header field with an empty name") }
        guard HTTPGrammar.isToken(name) else {
            if let last = name.last, HTTPGrammar.isWhitespace(last) {
                return malformed("whitespace between a header field name and its colon")
            }
            return malformed("header field name is not a token")
        }
        var value = line[(colon + 1)...]
        while let first = value.first, HTTPGrammar.isWhitespace(first) { value = value.dropFirst() }
        while let last = value.last, HTTPGrammar.isWhitespace(last) { value = value.dropLast() }
        guard value.allSatisfy(HTTPGrammar.isFieldValueByte) else {
            return malformed("control character in the value of header \(String(decoding: name, as: UTF8.self))")
        }
        guard headers.count < maximumFieldCount else {
            return .failure(HandshakeRejection(.headTooLarge, "the \(kindName) head has more than \(maximumFieldCount) header fields"))
        }
        headers.add(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        return nil
    }
}
