import NIOCore

/// Why a server refuses an opening handshake: an HTTP status and a sentence naming the problem.
///
/// Produced by ``HTTPHeadParser`` (a malformed or oversized head) and ``ServerHandshake`` (a head that
/// is not a valid WebSocket upgrade, RFC 6455 §4.2.1). The transport writes ``write(into:)`` — a
/// complete HTTP response with a short `text/plain` body — and then closes the connection
/// (RFC 6455 §4.2.2: "the server MUST stop processing the client's handshake and return an HTTP
/// response with an appropriate error code"). A transport's own policy (authentication, Origin
/// checks, rate limits) rejects with ``refused(status:reason:headers:)``.
///
/// The problem is the peer's: ``reason`` describes its request and is safe to send back.
public struct HandshakeRejection: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        /// The bytes are not an HTTP/1.1 message head (400).
        case malformedHead
        /// The head exceeds the parser's size or field-count limit (431).
        case headTooLarge
        /// The HTTP major version is not 1 (505).
        case httpVersionNotSupported
        /// The method is not GET (405, with `Allow: GET`).
        case methodNotAllowed
        /// A valid HTTP request that is not a valid WebSocket handshake (400).
        case invalidHandshake
        /// No `Upgrade: websocket` (426, with `Upgrade: websocket`).
        case upgradeRequired
        /// `Sec-WebSocket-Version` is missing or not 13 (426, with `Sec-WebSocket-Version: 13`).
        case unsupportedWebSocketVersion
        /// The transport's policy refused the request with this status.
        case refused(status: Int)
    }

    let code: Code

    /// A sentence naming the problem, e.g. "missing Sec-WebSocket-Key header".
    public let reason: String

    /// Fields the transport's policy added to a ``refused(status:reason:headers:)`` response.
    private let extraHeaders: HTTPHeaderFields

    init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
        self.extraHeaders = HTTPHeaderFields()
    }

    /// A rejection decided by the transport's own policy, e.g. 401 for a missing token or 403 for an
    /// Origin that is not allowed. `headers` are added to the response (e.g. `WWW-Authenticate`).
    /// `status` must be a 4xx or 5xx code; others are treated as 400 so that a refusal never reads as
    /// success.
    public static func refused(status: Int, reason: String, headers: HTTPHeaderFields = HTTPHeaderFields()) -> HandshakeRejection {
        let checkedStatus = (400...599).contains(status) ? status : 400
        return HandshakeRejection(code: .refused(status: checkedStatus), reason: reason, extraHeaders: headers)
    }

    private init(code: Code, reason: String, extraHeaders: HTTPHeaderFields) {
        self.code = code
        self.reason = reason
        self.extraHeaders = extraHeaders
    }

    /// The HTTP status code to answer with.
    public var status: Int {
        switch code {
        case .malformedHead, .invalidHandshake: return 400
        case .headTooLarge: return 431
        case .httpVersionNotSupported: return 505
        case .methodNotAllowed: return 405
        case .upgradeRequired, .unsupportedWebSocketVersion: return 426
        case .refused(let status): return status
        }
    }

    public var description: String { "\(status) \(HTTPGrammar.reasonPhrase(for: status)): \(reason)" }

    /// The body sent with the response: the reason and a line feed.
    public var body: String { reason + "\n" }

    /// The response head: the status, `Connection: close`, the body's type and length, and the fields
    /// the status requires:
    /// - 405: `Allow: GET` (RFC 9110 §15.5.6: "The origin server MUST generate an Allow header field").
    /// - 426: `Upgrade: websocket` and `Connection: Upgrade` (RFC 9110 §15.5.22: "The server MUST send
    ///   an Upgrade header field in a 426 response"), and for a version mismatch
    ///   `Sec-WebSocket-Version: 13` (RFC 6455 §4.4: "send ... a |Sec-WebSocket-Version| header field
    ///   indicating the version(s) the server is capable of understanding").
    public var response: HandshakeResponse {
        var headers = HTTPHeaderFields()
        switch code {
        case .methodNotAllowed:
            headers.add(name: "Allow", value: "GET")
        case .upgradeRequired, .unsupportedWebSocketVersion:
            headers.add(name: "Upgrade", value: "websocket")
        default:
            break
        }
        if case .unsupportedWebSocketVersion = code {
            headers.add(name: "Sec-WebSocket-Version", value: "13")
        }
        for field in extraHeaders { headers.add(name: field.name, value: field.value) }
        // The connection is closed after the rejection: a 426 lists "Upgrade" as well, as RFC 9110 §7.8
        // requires of a message carrying an Upgrade field.
        switch code {
        case .upgradeRequired, .unsupportedWebSocketVersion:
            headers.add(name: "Connection", value: "Upgrade, close")
        default:
            headers.add(name: "Connection", value: "close")
        }
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        return HandshakeResponse(status: status, reason: HTTPGrammar.reasonPhrase(for: status), headers: headers)
    }

    /// Writes the complete response, head and body, for the transport to send before closing.
    public func write(into buffer: inout ByteBuffer) {
        response.write(into: &buffer)
        buffer.writeString(body)
    }
}
