import SwitchboardProtocol
import SwitchboardServer

extension BrokerContract {
    static let roomy = HistoryRetention(size: 1_000, seconds: 60)

    /// Concurrent publishers: offsets 1…n without a hole or a repeat, one epoch, each publication handed to
    /// the subscribed node once, in offset order, exactly as history keeps it.
    static func ordering(_ broker: any Broker, _ handler: RecordingBrokerHandler, _ prefix: String) async throws {
        let channel = prefix + "order"
        try await broker.subscribe(channel)
        let publishers = 4, each = 50
        try await withThrowingTaskGroup(of: Void.self) { group in
            for publisher in 0..<publishers {
                group.addTask {
                    for index in 0..<each {
                        _ = try await broker.publish(.integer(Int64(publisher * 1_000 + index)), to: channel, info: nil, history: Self.roomy)
                    }
                }
            }
            try await group.waitForAll()
        }
        let total = publishers * each
        try await handler.wait(for: "\(total) publications delivered to the subscribed node") { handler.publications(in: channel).count >= total }
        let delivered = handler.publications(in: channel)
        try expect(delivered.map(\.offset) == (1...UInt64(total)).map { $0 }, "offsets 1…\(total) in order, each once",
                   found: "\(delivered.map(\.offset).prefix(20))…")
        try expect(Set(delivered.map(\.epoch)).count == 1, "one epoch", found: "\(Set(delivered.map(\.epoch)))")
        let history = try await broker.history(of: channel, since: nil, limit: total, retention: Self.roomy)
        guard case .publications(let kept, let current) = history else {
            throw BrokerContractViolation(description: "history of a live channel should be publications; found \(history)")
        }
        try expect(kept == delivered, "history keeps what was delivered, under the same offsets", found: "\(kept.count) publications")
        try expect(current == delivered.last?.position, "the current position is the last publication's", found: "\(current)")
    }

    /// Since a retained position: exactly what came after it. More than the caller may take, another epoch,
    /// or a position ahead of the stream: not recoverable, with the current position.
    static func recovery(_ broker: any Broker, _ handler: RecordingBrokerHandler, _ prefix: String) async throws {
        let channel = prefix + "gap"
        let first = try await broker.publish("a", to: channel, info: nil, history: Self.roomy)
        for _ in 0..<10 { _ = try await broker.publish("b", to: channel, info: nil, history: Self.roomy) }
        let current = StreamPosition(offset: 11, epoch: first.epoch)
        let gap = try await broker.history(of: channel, since: first.position, limit: 100, retention: Self.roomy)
        let retained = try await Self.history(of: broker, channel, count: 11)
        try expect(gap == .publications(retained.filter { $0.offset > 1 }, current: current),
                   "since offset 1: offsets 2…11 and the current position", found: "\(gap)")
        for (since, limit, why) in [(first.position, 5, "more missed than the limit"),
                                    (StreamPosition(offset: 1, epoch: "another"), 100, "another epoch"),
                                    (StreamPosition(offset: 99, epoch: first.epoch), 100, "ahead of the stream")] {
            let answer = try await broker.history(of: channel, since: since, limit: limit, retention: Self.roomy)
            try expect(answer == .notRecoverable(current: current), "\(why): not recoverable, never truncated", found: "\(answer)")
        }
    }

    /// A size of 3 keeps the last 3; a position older than them is not recoverable; a size of 0 keeps
    /// nothing, yet offsets go on counting.
    static func retention(_ broker: any Broker, _ handler: RecordingBrokerHandler, _ prefix: String) async throws {
        let small = HistoryRetention(size: 3, seconds: 60)
        var last: Publication?
        for index in 1...5 { last = try await broker.publish(.integer(Int64(index)), to: prefix + "small", info: nil, history: small) }
        let kept = try await broker.history(of: prefix + "small", since: nil, limit: 10, retention: small)
        guard case .publications(let publications, _) = kept, let last else {
            throw BrokerContractViolation(description: "history of a channel with retention should be publications; found \(kept)")
        }
        try expect(publications.map(\.offset) == [3, 4, 5], "the last 3 of 5 kept", found: "\(publications.map(\.offset))")
        let tooOld = try await broker.history(of: prefix + "small", since: StreamPosition(offset: 1, epoch: last.epoch), limit: 10, retention: small)
        try expect(tooOld == .notRecoverable(current: last.position), "a position older than what is kept: not recoverable", found: "\(tooOld)")
        let none = HistoryRetention(size: 0, seconds: 0)
        let a = try await broker.publish("a", to: prefix + "none", info: nil, history: none)
        let b = try await broker.publish("b", to: prefix + "none", info: nil, history: none)
        try expect((a.offset, b.offset) == (1, 2), "offsets count without history", found: "\(a.offset), \(b.offset)")
        let empty = try await broker.history(of: prefix + "none", since: nil, limit: 10, retention: none)
        try expect(empty == .publications([], current: b.position), "no history kept, the position known", found: "\(empty)")
    }

    /// The same key again in the channel: nothing published, ``DuplicatePublication`` with the first
    /// position. The same key in another channel, or another key: published.
    static func idempotency(_ broker: any Broker, _ handler: RecordingBrokerHandler, _ prefix: String) async throws {
        func request(_ channel: String, _ key: String) -> PublishRequest {
            PublishRequest(channel: prefix + channel, data: "x", info: nil, history: Self.roomy,
                           idempotency: PublishIdempotency(key: key, seconds: 60))
        }
        let outcomes = await broker.publish([request("a", "k1"), request("a", "k1"), request("b", "k1"), request("a", "k2")])
        guard outcomes.count == 4, case .success(let first) = outcomes[0] else {
            throw BrokerContractViolation(description: "a first publish with a key should succeed; found \(outcomes)")
        }
        guard case .failure(let error) = outcomes[1], let duplicate = error as? DuplicatePublication else {
            throw BrokerContractViolation(description: "the same key again should be a DuplicatePublication; found \(outcomes[1])")
        }
        try expect(duplicate.position == first.position, "the duplicate reports the first publish's position", found: "\(duplicate.position)")
        guard case .success(let other) = outcomes[2], case .success(let second) = outcomes[3] else {
            throw BrokerContractViolation(description: "the key in another channel, and another key, should publish; found \(outcomes[2...])")
        }
        try expect(other.offset == 1 && second.offset == 2, "each published once, offsets 1 and 2",
                   found: "\(other.offset) in \(other.channel), \(second.offset)")
    }

    /// Added clients are listed until removed; a presence event reaches the subscribed node.
    static func presence(_ broker: any Broker, _ handler: RecordingBrokerHandler, _ prefix: String) async throws {
        let channel = prefix + "room"
        let alice = ClientInfo(user: "alice", client: "c-alice", info: nil)
        let bob = ClientInfo(user: "bob", client: "c-bob", info: nil)
        try await broker.addPresence(alice, to: channel, ttl: 60)
        try await broker.addPresence(bob, to: channel, ttl: 60)
        let both = try await broker.presence(of: channel).map(\.client).sorted()
        try expect(both == ["c-alice", "c-bob"], "both listed", found: "\(both)")
        try await broker.removePresence(client: "c-alice", from: channel)
        let one = try await broker.presence(of: channel).map(\.client)
        try expect(one == ["c-bob"], "only bob after alice left", found: "\(one)")
        try await broker.subscribe(channel)
        try await broker.publishPresenceEvent(.join, client: alice, channel: channel)
        try await handler.wait(for: "the join event on the subscribed node") {
            handler.presence.withLockedValue { $0.contains { $0.0 == .join && $0.1 == "c-alice" && $0.2 == channel } }
        }
    }

    /// Stored, a ticket is granted once with its grant, then already used; one never stored is unknown.
    static func tickets(_ broker: any Broker, _ handler: RecordingBrokerHandler, _ prefix: String) async throws {
        let ticket = prefix + "ticket-\(UInt64.random(in: 0...UInt64.max))"
        let grant: [UInt8] = Array("{\"user\":\"alice\"}".utf8)
        try await broker.storeTicket(ticket, grant: grant, ttl: 10)
        let first = try await broker.redeemTicket(ticket)
        try expect(first == .granted(grant), "first redemption: the grant", found: "\(first)")
        let second = try await broker.redeemTicket(ticket)
        try expect(second == .alreadyUsed, "second redemption: already used", found: "\(second)")
        let unknown = try await broker.redeemTicket(prefix + "never-stored")
        try expect(unknown == .unknown, "a ticket never stored: unknown", found: "\(unknown)")
    }

    private static func history(of broker: any Broker, _ channel: String, count: Int) async throws -> [Publication] {
        guard case .publications(let publications, _) = try await broker.history(of: channel, since: nil, limit: count, retention: Self.roomy) else {
            throw BrokerContractViolation(description: "history of \(channel) should be publications")
        }
        return publications
    }
}
