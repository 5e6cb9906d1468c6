import Foundation
import SwitchboardProtocol

/// Who a verified token says the client is, and what it grants. Only ``TokenVerifier`` makes these from client
/// input; tests and back-end code may build them directly.
public struct Credentials: Sendable, Hashable {
    /// The token's `sub`: never empty (an empty id is how anonymous clients appear in `ClientInfo`).
    public var user: String
    /// The token's `exp`. The connection must be refreshed or closed (4003) by then.
    public var expiresAt: Date
    /// The token's `channels` claim: channels this client may subscribe to in namespaces whose subscribe policy
    /// is `token`. A trailing `*` grants every channel with that prefix (`chat:*`). Empty when absent.
    public var channels: [String]
    /// The token's `info` claim: application data other clients see in presence and join events.
    public var info: [String: JSONValue]?

    public init(user: String, expiresAt: Date, channels: [String] = [], info: [String: JSONValue]? = nil) {
        self.user = user
        self.expiresAt = expiresAt
        self.channels = channels
        self.info = info
    }
}
