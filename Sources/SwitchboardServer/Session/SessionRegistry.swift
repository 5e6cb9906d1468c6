import NIOConcurrencyHelpers
import NIOCore

/// Every session on this node, by user: how the HTTP API disconnects a user, how a draining node tells
/// everyone to leave, and how presence is kept fresh.
final class SessionRegistry: Sendable {
    private struct Entry {
        let session: ClientSession
        let user: String
        /// Subscribed (now or earlier) to a channel with presence: only these sessions are refreshed, so a
        /// node of notification users does not visit every session every 20 seconds.
        var hasPresence = false
    }

    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    func add(_ session: ClientSession, client: String, user: String) {
        self.entries.withLockedValue { $0[client] = Entry(session: session, user: user) }
    }

    func remove(client: String) {
        self.entries.withLockedValue { $0[client] = nil }
    }

    /// The session with this connection id, if it is on this node.
    func session(client: String) -> ClientSession? {
        self.entries.withLockedValue { $0[client]?.session }
    }

    var count: Int { self.entries.withLockedValue { $0.count } }

    /// Notes that a session has entries in some channel's presence (``forEachWithPresence(_:)``).
    func markPresence(client: String) {
        self.entries.withLockedValue { $0[client]?.hasPresence = true }
    }

    /// Runs `body` on the event loop of each session that has subscribed to a channel with presence.
    func forEachWithPresence(_ body: @escaping @Sendable (ClientSession) -> Void) {
        self.forEach(where: \.hasPresence, body)
    }

    /// Runs `body` on each session's event loop; `user` limits it to one user's sessions. Returns how many.
    @discardableResult
    func forEach(user: String? = nil, _ body: @escaping @Sendable (ClientSession) -> Void) -> Int {
        self.forEach(where: { user == nil || $0.user == user }, body)
    }

    @discardableResult
    private func forEach(where isIncluded: (Entry) -> Bool, _ body: @escaping @Sendable (ClientSession) -> Void) -> Int {
        let sessions = self.entries.withLockedValue { entries in entries.values.filter(isIncluded).map(\.session) }
        for session in sessions {
            session.eventLoop.execute { body(session) }
        }
        return sessions.count
    }
}
