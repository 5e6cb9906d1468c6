import Foundation
import SwitchboardProtocol

/// Who is on the other end of a session, once it has authenticated.
struct SessionIdentity: Sendable {
    /// The token's credentials; nil for an anonymous client.
    var credentials: Credentials?
    var info: ClientInfo

    var user: String { self.info.user }
    var isAnonymous: Bool { self.credentials == nil }
}

/// Connection ids: unique on the cluster without coordination (122 random bits).
enum ClientID {
    static func make() -> String { UUID().uuidString.lowercased() }
}
