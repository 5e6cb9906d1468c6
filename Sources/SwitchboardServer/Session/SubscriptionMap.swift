/// A session's subscriptions by channel: one held inline, a few in a small array searched in order, a
/// dictionary only beyond that. Most connections of a notification service hold one or two channels (their
/// user's, a broadcast), and a dictionary for them would cost some 270 bytes on each; with so few entries
/// comparing names is also faster than hashing one.
struct SubscriptionMap: Sequence {
    typealias Element = (key: String, value: Subscription)

    private enum Storage {
        case empty
        case one(String, Subscription)
        case few([Element])
        case many([String: Subscription])
    }

    /// The most entries the array holds before they move to a dictionary.
    static let arrayLimit = 8

    private var storage = Storage.empty

    var count: Int {
        switch self.storage {
        case .empty: 0
        case .one: 1
        case .few(let entries): entries.count
        case .many(let all): all.count
        }
    }

    var keys: [String] {
        switch self.storage {
        case .empty: []
        case .one(let channel, _): [channel]
        case .few(let entries): entries.map(\.key)
        case .many(let all): Array(all.keys)
        }
    }

    subscript(channel: String) -> Subscription? {
        get {
            switch self.storage {
            case .empty: nil
            case .one(let only, let subscription): only == channel ? subscription : nil
            case .few(let entries): entries.first { $0.key == channel }?.value
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
                self.storage = .few([(only, subscription), (channel, newValue)])
            case .few(var entries):
                self.storage = .empty  // the array stays uniquely referenced while it changes
                if let index = entries.firstIndex(where: { $0.key == channel }) {
                    entries[index].value = newValue
                    self.storage = .few(entries)
                } else if entries.count < Self.arrayLimit {
                    entries.append((channel, newValue))
                    self.storage = .few(entries)
                } else {
                    var all = Dictionary(uniqueKeysWithValues: entries.lazy.map { ($0.key, $0.value) })
                    all[channel] = newValue
                    self.storage = .many(all)
                }
            case .many(var all):
                self.storage = .empty
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
        case .few(var entries):
            guard let index = entries.firstIndex(where: { $0.key == channel }) else { return nil }
            self.storage = .empty
            defer { self.storage = .few(entries) }
            return body(&entries[index].value)
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
        case .few(var entries):
            guard let index = entries.firstIndex(where: { $0.key == channel }) else { return nil }
            self.storage = .empty
            let removed = entries.remove(at: index)
            self.storage = entries.count == 1 ? .one(entries[0].key, entries[0].value) : .few(entries)
            return removed.value
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

    func makeIterator() -> IndexingIterator<[Element]> {
        switch self.storage {
        case .empty: [].makeIterator()
        case .one(let channel, let subscription): [(channel, subscription)].makeIterator()
        case .few(let entries): entries.makeIterator()
        case .many(let all): all.map { ($0.key, $0.value) }.makeIterator()
        }
    }
}
