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

    private struct State {
        var entries: [String: Entry] = [:]
        /// Open sessions per authenticated user (anonymous ones are not counted).
        var perUser: [String: Int] = [:]
    }

    private let state = NIOLockedValueBox(State())

    /// Adds the session unless its user already has `limit` sessions here (anonymous users have no limit);
    /// says whether it did.
    func add(_ session: ClientSession, client: String, user: String, limit: Int = .max) -> Bool {
        self.state.withLockedValue { state in
            if !user.isEmpty {
                let open = state.perUser[user, default: 0]
                guard open < limit else { return false }
                state.perUser[user] = open + 1
            }
            state.entries[client] = Entry(session: session, user: user)
            return true
        }
    }

    func remove(client: String) {
        self.state.withLockedValue { state in
            guard let entry = state.entries.removeValue(forKey: client), !entry.user.isEmpty else { return }
            let open = state.perUser[entry.user, default: 1] - 1
            state.perUser[entry.user] = open > 0 ? open : nil
        }
    }

    /// The session with this connection id, if it is on this node.
    func session(client: String) -> ClientSession? {
        self.state.withLockedValue { $0.entries[client]?.session }
    }

    var count: Int { self.state.withLockedValue { $0.entries.count } }

    /// Notes that a session has entries in some channel's presence (``forEachWithPresence(_:)``).
    func markPresence(client: String) {
        self.state.withLockedValue { $0.entries[client]?.hasPresence = true }
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
        let sessions = self.state.withLockedValue { state in state.entries.values.filter(isIncluded).map(\.session) }
        for session in sessions {
            session.eventLoop.execute { body(session) }
        }
        return sessions.count
    }
}
