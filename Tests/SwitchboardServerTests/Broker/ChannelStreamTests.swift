import Testing
import SwitchboardProtocol
@testable import SwitchboardServer

@Suite struct ChannelStreamTests {
    let hour: UInt64 = 3_600_000

    func stream(capacity: Int = 2000, retention: UInt64 = 2 * 3_600_000) -> ChannelStream {
        ChannelStream(channel: "chat:lobby", epoch: "e1", capacity: capacity, retentionMilliseconds: retention)
    }

    /// A client that saw offset 10 and missed 1,000 publications gets exactly those, in order.
    @Test func recoversExactlyWhatWasMissedInOrder() {
        var stream = stream()
        for index in 1...10 { _ = stream.append(.integer(Int64(index)), info: nil, now: 0) }
        let seen = stream.position
        for index in 11...1010 { _ = stream.append(.integer(Int64(index)), info: nil, now: 1000) }
        guard case .recovered(let missed) = stream.publications(after: seen, now: 2000) else {
            Issue.record("not recovered")
            return
        }
        #expect(missed.count == 1000)
        #expect(missed.map(\.offset) == Array(11...1010))
        #expect(missed.map(\.data) == (11...1010).map { .integer(Int64($0)) })
        #expect(stream.publications(after: stream.position, now: 2000) == .recovered([]))
    }

    /// Offline for two hours with a two-hour window: everything is still there; a minute more and it is not.
    @Test func retentionWindowDecidesRecoverability() {
        var stream = stream()
        let seen = stream.position
        _ = stream.append("first", info: nil, now: 0)
        _ = stream.append("second", info: nil, now: hour)
        guard case .recovered(let missed) = stream.publications(after: seen, now: 2 * hour) else {
            Issue.record("two hours later the history should still be complete")
            return
        }
        #expect(missed.map(\.data) == ["first", "second"])
        #expect(stream.publications(after: seen, now: 2 * hour + 60_000) == .notRecoverable)
        // From a later position the remaining history still serves.
        #expect(stream.publications(after: StreamPosition(offset: 1, epoch: "e1"), now: 2 * hour + 60_000)
                == .recovered([Publication(channel: "chat:lobby", offset: 2, epoch: "e1", data: "second")]))
    }

    @Test func capacityDropsTheOldestAndAPartialGapIsNotRecoverable() {
        var stream = stream(capacity: 3)
        for index in 1...5 { _ = stream.append(.integer(Int64(index)), info: nil, now: 0) }
        #expect(stream.history(limit: nil, now: 0).map(\.offset) == [3, 4, 5])
        #expect(stream.history(limit: 2, now: 0).map(\.offset) == [4, 5])
        #expect(stream.publications(after: StreamPosition(offset: 2, epoch: "e1"), now: 0) != .notRecoverable)
        // Offset 1 was dropped: the client must not get 3, 4, 5 as if nothing were missing.
        #expect(stream.publications(after: StreamPosition(offset: 1, epoch: "e1"), now: 0) == .notRecoverable)
    }

    @Test func otherEpochsAndPositionsAheadAreNotRecoverable() {
        var stream = stream()
        _ = stream.append("x", info: nil, now: 0)
        #expect(stream.publications(after: StreamPosition(offset: 0, epoch: "old"), now: 0) == .notRecoverable)
        #expect(stream.publications(after: StreamPosition(offset: 9, epoch: "e1"), now: 0) == .notRecoverable)
    }

    @Test func offsetsAreMonotonicEvenWithoutHistory() {
        var stream = stream(capacity: 0)
        let offsets = (1...5).map { _ in stream.append(nil, info: nil, now: 0).offset }
        #expect(offsets == [1, 2, 3, 4, 5])
        #expect(stream.history(limit: nil, now: 0).isEmpty)
        #expect(stream.publications(after: StreamPosition(offset: 4, epoch: "e1"), now: 0) == .notRecoverable)
        #expect(stream.publications(after: StreamPosition(offset: 5, epoch: "e1"), now: 0) == .recovered([]))
    }
}

@Suite struct ChannelStreamGrowthTests {
    /// The ring grows as publications arrive; pruning by age while it is still growing must not lose order.
    @Test func agePruningWhileTheRingGrowsKeepsTheNewestInOrder() {
        var stream = ChannelStream(channel: "c", epoch: "e", capacity: 1000, retentionMilliseconds: 10)
        var now: UInt64 = 0
        for index in 1...700 {
            now += 1  // publication i at time i: at most the last ~10 are young enough
            _ = stream.append(.integer(Int64(index)), info: nil, now: now)
        }
        let kept = stream.history(limit: nil, now: now)
        #expect(kept.map(\.offset) == Array(690...700))
        #expect(stream.publications(after: StreamPosition(offset: 695, epoch: "e"), now: now) == .recovered(Array(kept.suffix(5))))
    }

    @Test func aFullRingDropsTheOldestAndKeepsCapacity() {
        var stream = ChannelStream(channel: "c", epoch: "e", capacity: 50, retentionMilliseconds: 1_000_000)
        for index in 1...123 { _ = stream.append(.integer(Int64(index)), info: nil, now: 0) }
        #expect(stream.count == 50)
        #expect(stream.history(limit: nil, now: 0).map(\.offset) == Array(74...123))
        #expect(stream.publications(after: StreamPosition(offset: 73, epoch: "e"), now: 0) != .notRecoverable)
        #expect(stream.publications(after: StreamPosition(offset: 72, epoch: "e"), now: 0) == .notRecoverable)
    }
}
