import NIOCore
import SwitchboardWebSocket

/// The body of a server's refusal of our upgrade, read so that the error quotes it: a Switchboard node's
/// 404 names the right path ("no WebSocket endpoint at /; use /connection/websocket"), a 401 says what is
/// missing. The status line alone ("404 Not Found") leaves the user guessing.
///
/// Only the first ``quotedLimit`` bytes are kept, and the handshake timeout still bounds the wait, so a
/// server that sends a large page, or never ends its body, cannot hold the failure back for long.
struct HandshakeRefusalBody {
    static let quotedLimit = 512

    /// What the failure says without the body, e.g. "WebSocket handshake failed: server answered 404 Not Found".
    let refusal: String
    let status: Int
    /// `Retry-After` in seconds (RFC 9110 §10.2.3; the HTTP-date form is not read).
    let retryAfter: Int?
    /// Bytes still to keep before the body is complete or the limit is reached.
    private var wanted: Int
    private var bytes: [UInt8] = []

    /// Nil when there is no body to wait for. RFC 9112 §6.3: a 1xx, 204 or 304 response has none; otherwise
    /// Content-Length gives its size, and without it the body runs until the server closes. A chunked
    /// body is not decoded: quoting its framing would not help, so it is not waited for.
    init?(refusal: String, response: HandshakeResponse) {
        guard !(100...199).contains(response.status), response.status != 204, response.status != 304,
              !response.headers.contains("Transfer-Encoding") else { return nil }
        self.refusal = refusal
        self.status = response.status
        self.retryAfter = Self.retryAfter(response)
        if let length = response.headers.first("Content-Length") {
            guard let size = Int(length.filter { $0 != " " && $0 != "\t" }), size > 0 else { return nil }
            self.wanted = min(size, Self.quotedLimit)
        } else {
            self.wanted = Self.quotedLimit
        }
    }

    /// Keeps what `input` holds of the body; true once there is nothing more to wait for.
    mutating func read(_ input: inout ByteBuffer) -> Bool {
        let taken = input.readBytes(length: min(self.wanted, input.readableBytes)) ?? []
        self.bytes += taken
        self.wanted -= taken.count
        input.moveReaderIndex(to: input.writerIndex)
        return self.wanted == 0
    }

    /// The refusal with what arrived of the body, on one line.
    var error: WebSocketTransportError {
        let words = String(decoding: self.bytes, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        let message = words.isEmpty ? self.refusal : "\(self.refusal): \(words.joined(separator: " "))"
        return .handshakeRefused(message, status: self.status, retryAfter: self.retryAfter)
    }

    /// The seconds of a response's `Retry-After`, when it gives them as a number.
    static func retryAfter(_ response: HandshakeResponse) -> Int? {
        response.headers.first("Retry-After").flatMap { Int($0.filter { $0 != " " && $0 != "\t" }) }.map { max(0, $0) }
    }
}
