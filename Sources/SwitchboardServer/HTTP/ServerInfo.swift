/// `GET /api/info`: what this node is doing now.
struct ServerInfo: Encodable, Sendable {
    var version: String
    var uptimeSeconds: Int
    var connections: Int
    var subscriptions: Int
    var channels: Int
    var broker: String
}
