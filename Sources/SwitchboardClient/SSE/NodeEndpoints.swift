import Foundation
import SwitchboardWebSocketNIO

/// Where a node serves each transport, derived from the WebSocket URL the client was given, as
/// switchboard.js derives them: the same host, `http(s)` for `ws(s)`, and the SSE paths beside
/// `/connection/websocket` (under any prefix a proxy mounts it on).
struct NodeEndpoints: Sendable, Equatable {
    var isSecure: Bool
    var host: String
    var port: Int
    /// `Host` header: the host and, when not the scheme's default, the port.
    var hostHeader: String
    var ssePath: String
    var commandPath: String
    var ticketPath: String

    init(webSocketURL string: String) throws {
        let url = try WebSocketURL(string)
        self.isSecure = url.isSecure
        self.host = url.host
        self.port = url.port
        self.hostHeader = url.hostHeader
        let path = url.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        let suffix = "/connection/websocket"
        let prefix = path.hasSuffix(suffix) ? String(path.dropLast(suffix.count)) : ""
        self.ssePath = prefix + "/connection/sse"
        self.commandPath = prefix + "/connection/sse/command"
        self.ticketPath = prefix + "/connection/ticket"
    }
}

extension String {
    /// The string as a URL query component: RFC 3986's unreserved characters as they are, everything else
    /// percent-encoded (a ticket or client id never needs more, but nothing a node sends is trusted to).
    var queryComponentEncoded: String {
        self.addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? self
    }

    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
