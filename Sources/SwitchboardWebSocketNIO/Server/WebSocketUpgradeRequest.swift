import NIOCore
import SwitchboardWebSocket

/// An opening handshake a server is about to accept: what an upgrade hook sees.
public struct WebSocketUpgradeRequest: Sendable {
    /// The request head as received.
    public var head: HandshakeRequest
    /// The peer's address (the TCP peer: a proxy's address when behind one).
    public var remoteAddress: SocketAddress?

    public init(head: HandshakeRequest, remoteAddress: SocketAddress?) {
        self.head = head
        self.remoteAddress = remoteAddress
    }

    public var path: String { self.head.path }
    public var headers: HTTPHeaderFields { self.head.headers }

    /// The query parameters, percent-decoded, in order (`?token=a&room=b`).
    public var queryItems: [(name: String, value: String)] {
        guard let query = self.head.query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentDecoding.decode(parts[0])
            let value = parts.count > 1 ? PercentDecoding.decode(parts[1]) : ""
            return (name, value)
        }
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        self.queryItems.first { $0.name == name }?.value
    }
}

/// What a server's upgrade hook decides about a handshake.
public struct WebSocketUpgradeDecision: Sendable {
    enum Verdict: Sendable {
        case accept(headers: HTTPHeaderFields, context: (any Sendable)?)
        case reject(HandshakeRejection)
    }

    let verdict: Verdict

    /// Accept; `headers` are added to the 101 response, `context` is handed to the connection.
    public static func accept(headers: HTTPHeaderFields = HTTPHeaderFields(), context: (any Sendable)? = nil) -> Self {
        Self(verdict: .accept(headers: headers, context: context))
    }

    /// Refuse with an HTTP status (400–599) and a reason sent as the response body.
    public static func reject(status: Int, reason: String, headers: HTTPHeaderFields = HTTPHeaderFields()) -> Self {
        Self(verdict: .reject(.refused(status: status, reason: reason, headers: headers)))
    }
}

enum PercentDecoding {
    /// Decodes `%XX` escapes and `+` (form encoding) as a space; malformed escapes are kept as they are.
    static func decode(_ text: Substring) -> String {
        guard text.contains("%") || text.contains("+") else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), iterator.count >= 2,
                      let high = hexValue(iterator[iterator.startIndex]), let low = hexValue(iterator[iterator.startIndex + 1]) {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
