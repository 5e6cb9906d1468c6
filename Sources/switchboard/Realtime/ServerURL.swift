import Foundation

/// Where a Switchboard node is, as a user types it (`ws://127.0.0.1:8000`, `https://rt.example.com`,
/// `127.0.0.1:8000`), turned into the two addresses the tools need: the WebSocket endpoint and the HTTP API.
///
/// The two schemes of a node go together (the WebSocket, SSE and HTTP API share one port), so either
/// spelling works for either tool: `http` ↔ `ws`, `https` ↔ `wss`. A URL without a scheme is plain (`ws`).
struct ServerURL: Sendable, Hashable, CustomStringConvertible {
    /// The node's default WebSocket path (`webSocketPath` in the server configuration).
    static let defaultWebSocketPath = "/connection/websocket"

    var isSecure: Bool
    /// `host[:port]` exactly as given (brackets of an IPv6 literal included).
    var authority: String
    /// The path as given, without a trailing `/`; empty when the URL has none.
    var path: String
    /// The query, without the `?`; nil when there is none.
    var query: String?

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    init(_ text: String) throws(Invalid) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        let lowered = rest.lowercased()
        if let scheme = ["wss://", "https://", "ws://", "http://"].first(where: { lowered.hasPrefix($0) }) {
            self.isSecure = scheme.hasPrefix("wss") || scheme.hasPrefix("https")
            rest = rest.dropFirst(scheme.count)
        } else if lowered.contains("://") {
            throw Invalid(description: "unsupported scheme in '\(text)': use ws://, wss://, http:// or https://")
        } else {
            self.isSecure = false
        }
        if rest.contains("#") { throw Invalid(description: "a fragment (#) makes no sense in '\(text)'") }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        self.authority = String(rest[..<authorityEnd])
        guard !self.authority.isEmpty else { throw Invalid(description: "no host in '\(text)'") }
        var pathAndQuery = rest[authorityEnd...]
        if let questionMark = pathAndQuery.firstIndex(of: "?") {
            self.query = String(pathAndQuery[pathAndQuery.index(after: questionMark)...])
            pathAndQuery = pathAndQuery[..<questionMark]
        }
        while pathAndQuery.hasSuffix("/") { pathAndQuery = pathAndQuery.dropLast() }
        self.path = String(pathAndQuery)
    }

    /// The real-time endpoint: the URL's own path when it has one (a node with another `webSocketPath`, or
    /// behind a proxy), else the node's default path. The query is kept.
    var webSocketURL: String {
        let path = self.path.isEmpty ? Self.defaultWebSocketPath : self.path
        return "\(self.isSecure ? "wss" : "ws")://\(self.authority)\(path)\(self.query.map { "?\($0)" } ?? "")"
    }

    /// An HTTP API endpoint such as `/api/publish`, under the URL's path (a node mounted under a prefix by a
    /// proxy keeps its prefix). The query is dropped: the API takes none.
    func httpURL(endpoint: String) -> String {
        "\(self.isSecure ? "https" : "http")://\(self.authority)\(self.path)\(endpoint)"
    }

    var description: String {
        "\(self.isSecure ? "https" : "http")://\(self.authority)\(self.path)\(self.query.map { "?\($0)" } ?? "")"
    }
}
