/// A parsed `ws://` or `wss://` URL (RFC 6455 §3).
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    public var isSecure: Bool
    /// The host without brackets (an IPv6 literal is bare here).
    public var host: String
    public var port: Int
    /// Path and query, as sent in the request line (`/` when the URL has no path).
    public var target: String

    /// Parses `ws[s]://host[:port][/path][?query]`; a fragment is not allowed (RFC 6455 §3).
    public init(_ string: String) throws(WebSocketTransportError) {
        let lowered = string.lowercased()
        let rest: Substring
        if lowered.hasPrefix("ws://") {
            self.isSecure = false
            rest = string.dropFirst(5)
        } else if lowered.hasPrefix("wss://") {
            self.isSecure = true
            rest = string.dropFirst(6)
        } else {
            throw .invalidURL(string, "the scheme must be ws:// or wss://")
        }
        if rest.contains("#") { throw .invalidURL(string, "fragments are not allowed in WebSocket URLs") }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        self.target = path.isEmpty ? "/" : (path.first == "?" ? "/" + path : String(path))
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var portText: Substring? = nil
        if authority.first == "[" {
            guard let close = authority.firstIndex(of: "]") else { throw .invalidURL(string, "unterminated IPv6 address") }
            self.host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.first == ":" { portText = after.dropFirst() } else if !after.isEmpty { throw .invalidURL(string, "unexpected text after the IPv6 address") }
        } else if let colon = authority.lastIndex(of: ":") {
            self.host = String(authority[..<colon])
            portText = authority[authority.index(after: colon)...]
        } else {
            self.host = String(authority)
        }
        guard !self.host.isEmpty else { throw .invalidURL(string, "missing host") }
        if let portText {
            guard let port = Int(portText), (1...65535).contains(port) else { throw .invalidURL(string, "invalid port '\(portText)'") }
            self.port = port
        } else {
            self.port = self.isSecure ? 443 : 80
        }
    }

    /// The Host header value: the port only when it is not the scheme's default (RFC 6455 §4.1 item 4).
    public var hostHeader: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        let isDefault = self.port == (self.isSecure ? 443 : 80)
        return isDefault ? host : "\(host):\(self.port)"
    }

    public var description: String {
        "\(self.isSecure ? "wss" : "ws")://\(self.hostHeader)\(self.target)"
    }
}
