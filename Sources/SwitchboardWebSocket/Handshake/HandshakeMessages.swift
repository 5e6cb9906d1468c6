/// An HTTP/1.1 request head as the opening handshake sees it (RFC 6455 §4.1).
public struct HandshakeRequest: Sendable, Hashable {
    public var method: String
    /// The request-target as sent: origin-form (`/chat?room=1`) in practice.
    public var target: String
    /// HTTP version as (major, minor); the handshake requires at least 1.1.
    public var versionMajor: Int
    public var versionMinor: Int
    public var headers: HTTPHeaderFields

    public init(method: String = "GET", target: String, versionMajor: Int = 1, versionMinor: Int = 1,
                headers: HTTPHeaderFields = HTTPHeaderFields()) {
        self.method = method
        self.target = target
        self.versionMajor = versionMajor
        self.versionMinor = versionMinor
        self.headers = headers
    }

    /// The path part of the target, without the query.
    public var path: String {
        if let question = target.firstIndex(of: "?") { return String(target[..<question]) }
        return target
    }

    /// The raw query string after `?`, or nil.
    public var query: String? {
        guard let question = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: question)...])
    }

    /// Whether the request asks to switch to WebSocket: its `Upgrade` field lists the token `websocket`,
    /// compared ASCII case-insensitively (RFC 6455 §4.2.1 item 3). Only such a request is an opening
    /// handshake, valid or not; any other request is plain HTTP, for a server that shares its port with
    /// an HTTP application.
    public var asksForWebSocketUpgrade: Bool {
        HTTPGrammar.listContainsToken(headers.values(for: "Upgrade"), "websocket")
    }
}

/// An HTTP/1.1 response head: the server's 101 or a rejection.
public struct HandshakeResponse: Sendable, Hashable {
    public var status: Int
    public var reason: String
    public var headers: HTTPHeaderFields

    public init(status: Int, reason: String, headers: HTTPHeaderFields = HTTPHeaderFields()) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }
}
