/// A session's subscriptions by channel: the usual one held inline, a dictionary only from the second on.
/// Most connections of a notification service hold one channel (their user's), and a dictionary for it
/// would cost some 180 bytes on each.
struct SubscriptionMap: Sequence {
    private enum Storage {
        case empty
        case one(String, Subscription)
        case many([String: Subscription])
    }

    private var storage = Storage.empty

    var count: Int {
        switch self.storage {
        case .empty: 0
        case .one: 1
        case .many(let all): all.count
        }
    }

    var keys: [String] {
        switch self.storage {
        case .empty: []
        case .one(let channel, _): [channel]
        case .many(let all): Array(all.keys)
        }
    }

    subscript(channel: String) -> Subscription? {
        get {
            switch self.storage {
            case .empty: nil
            case .one(let only, let subscription): only == channel ? subscription : nil
            case .many(let all): all[channel]
            }
        }
        set {
            guard let newValue else {
                _ = self.removeValue(forKey: channel)
                return
            }
            switch self.storage {
            case .empty:
                self.storage = .one(channel, newValue)
            case .one(let only, _) where only == channel:
                self.storage = .one(channel, newValue)
            case .one(let only, let subscription):
                self.storage = .many([only: subscription, channel: newValue])
            case .many(var all):
                self.storage = .empty  // the dictionary stays uniquely referenced while it changes
                all[channel] = newValue
                self.storage = .many(all)
            }
        }
    }

    /// Runs `body` on the channel's subscription in place (one lookup for a read and a write); nil when
    /// there is none.
    mutating func update<Result>(_ channel: String, _ body: (inout Subscription) -> Result) -> Result? {
        switch self.storage {
        case .empty:
            return nil
        case .one(let only, var subscription):
            guard only == channel else { return nil }
            // Out of the storage while it changes, so a joining buffer is not copied.
            self.storage = .empty
            defer { self.storage = .one(only, subscription) }
            return body(&subscription)
        case .many(var all):
            guard let index = all.index(forKey: channel) else { return nil }
            self.storage = .empty
            defer { self.storage = .many(all) }
            return body(&all.values[index])
        }
    }

    @discardableResult
    mutating func removeValue(forKey channel: String) -> Subscription? {
        switch self.storage {
        case .empty:
            return nil
        case .one(let only, let subscription):
            guard only == channel else { return nil }
            self.storage = .empty
            return subscription
        case .many(var all):
            self.storage = .empty
            let removed = all.removeValue(forKey: channel)
            self.storage = all.isEmpty ? .empty : .many(all)
            return removed
        }
    }

    mutating func removeAll() {
        self.storage = .empty
    }

    func makeIterator() -> IndexingIterator<[(key: String, value: Subscription)]> {
        switch self.storage {
        case .empty: [].makeIterator()
        case .one(let channel, let subscription): [(channel, subscription)].makeIterator()
        case .many(let all): all.map { ($0.key, $0.value) }.makeIterator()
        }
    }
}
