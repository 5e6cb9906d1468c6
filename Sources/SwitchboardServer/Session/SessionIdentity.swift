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

/// Connection ids: unique on the cluster without coordination. 15 letters and digits (89 random bits: a
/// billion ids collide with odds under one in a billion) fit a Swift string's inline storage, so an id costs
/// no allocation on each connection (a UUID's 36 characters did), and need no escaping in URLs or JSON.
enum ClientID {
    static let length = 15
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)

    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<Self.length).map { _ in Self.alphabet.randomElement(using: &generator)! }, as: UTF8.self)
    }
}
