import NIOCore

/// Which pub/sub channels a subscriber connection is in, and the confirmations it still expects.
///
/// Interest is counted: the first `subscribe` of a name sends SUBSCRIBE, the last `unsubscribe` sends
/// UNSUBSCRIBE. Counting also makes the table indifferent to callers that race (an unsubscribe overtaken by
/// the next subscribe still leaves the name subscribed).
///
/// Redis confirms every name of every SUBSCRIBE and UNSUBSCRIBE with a push, in the order it got them, so
/// each name keeps a queue of the confirmations due. A subscribe returns when *its own* confirmation
/// arrives: after a quick unsubscribe → subscribe, the first confirmation in line belongs to an older
/// command, and returning on it would promise publications Redis is not yet sending.
///
/// A value with no I/O: the ``RedisSubscriber`` feeds it facts and sends what it returns.
struct SubscriptionTable {
    private enum Confirmation {
        case subscribe(waiters: [EventLoopPromise<Void>])
        case unsubscribe
    }

    private struct Entry {
        var interest = 0
        var due: [Confirmation] = []
    }

    private var entries: [String: Entry] = [:]
    private(set) var isConnected = false

    /// Names with interest (what a new connection subscribes to).
    var subscribedNames: [String] { self.entries.filter { $0.value.interest > 0 }.map(\.key).sorted() }

    func isSubscribed(_ name: String) -> Bool { (self.entries[name]?.interest ?? 0) > 0 }

    enum SubscribeAction {
        /// Send SUBSCRIBE for `send` (possibly none) and wait for `waiters` (possibly none).
        case subscribe(send: [String], waiters: [EventLoopPromise<Void>])
        case fail
    }

    mutating func subscribeRequested(_ names: [String], makePromise: () -> EventLoopPromise<Void>) -> SubscribeAction {
        guard self.isConnected else { return .fail }
        var send: [String] = []
        var waiters: [EventLoopPromise<Void>] = []
        for name in names {
            var entry = self.entries[name] ?? Entry()
            entry.interest += 1
            if entry.interest == 1 {
                let waiter = makePromise()
                entry.due.append(.subscribe(waiters: [waiter]))
                waiters.append(waiter)
                send.append(name)
            } else if case .subscribe(var pending)? = entry.due.last {
                // Subscribed already, but not confirmed yet: this caller waits for the same confirmation.
                let waiter = makePromise()
                pending.append(waiter)
                entry.due[entry.due.count - 1] = .subscribe(waiters: pending)
                waiters.append(waiter)
            }
            self.entries[name] = entry
        }
        return .subscribe(send: send, waiters: waiters)
    }

    /// Returns the names to send UNSUBSCRIBE for.
    mutating func unsubscribeRequested(_ names: [String]) -> [String] {
        var send: [String] = []
        for name in names {
            guard var entry = self.entries[name], entry.interest > 0 else { continue }
            entry.interest -= 1
            if entry.interest == 0, self.isConnected {
                entry.due.append(.unsubscribe)
                send.append(name)
            }
            self.store(entry, for: name)
        }
        return send
    }

    enum ConfirmationKind { case subscribe, unsubscribe }

    /// A `subscribe`/`unsubscribe` push arrived; returns who waited for it.
    mutating func confirmationReceived(_ kind: ConfirmationKind, for name: String) -> [EventLoopPromise<Void>] {
        guard var entry = self.entries[name], !entry.due.isEmpty else { return [] }
        let first = entry.due.removeFirst()
        self.store(entry, for: name)
        switch (first, kind) {
        case (.subscribe(let waiters), .subscribe): return waiters
        case (.unsubscribe, .unsubscribe): return []
        case (.subscribe(let waiters), .unsubscribe):
            // Not what Redis does; the waiters learn it was refused rather than wait forever.
            return waiters
        case (.unsubscribe, .subscribe): return []
        }
    }

    /// A new connection is up; returns the names to subscribe it to (everything with interest).
    mutating func connectionEstablished() -> [String] {
        self.isConnected = true
        var names: [String] = []
        for (name, var entry) in self.entries {
            entry.due = entry.interest > 0 ? [.subscribe(waiters: [])] : []
            if entry.interest > 0 { names.append(name) }
            self.store(entry, for: name)
        }
        return names.sorted()
    }

    /// The connection is gone: every pending confirmation is lost. Returns the waiters to fail. Interest
    /// stays, so the next connection subscribes again.
    mutating func connectionLost() -> [EventLoopPromise<Void>] {
        self.isConnected = false
        var waiters: [EventLoopPromise<Void>] = []
        for (name, var entry) in self.entries {
            for case .subscribe(let pending) in entry.due { waiters += pending }
            entry.due = []
            self.store(entry, for: name)
        }
        return waiters
    }

    private mutating func store(_ entry: Entry, for name: String) {
        self.entries[name] = entry.interest == 0 && entry.due.isEmpty ? nil : entry
    }
}
