import NIOConcurrencyHelpers
import SwitchboardClient
import SwitchboardProtocol

/// What the tests publish: a number per publication, so order and loss are visible in the data itself.
struct Numbered: Codable, Sendable, Hashable {
    var n: Int
}

/// Reads a subscription in the background from the moment it is made, with its events.
final class NumberedRecorder: Sendable {
    private let received = NIOLockedValueBox<[ReceivedPublication<Numbered>]>([])
    private let events = NIOLockedValueBox<[SubscriptionEvent]>([])
    private let ending = NIOLockedValueBox<String?>(nil)

    init(_ subscription: Subscription<Numbered>) {
        let received = self.received
        let events = self.events
        let ending = self.ending
        Task {
            do {
                for try await publication in subscription { received.withLockedValue { $0.append(publication) } }
                ending.withLockedValue { $0 = "ended" }
            } catch {
                ending.withLockedValue { $0 = "ended with \(error)" }
            }
        }
        Task {
            for await event in subscription.events { events.withLockedValue { $0.append(event) } }
        }
    }

    var all: [ReceivedPublication<Numbered>] { self.received.withLockedValue { $0 } }
    var allEvents: [SubscriptionEvent] { self.events.withLockedValue { $0 } }
    var ended: String? { self.ending.withLockedValue { $0 } }

    /// Waits until every number in `numbers` has arrived; false on timeout.
    func waitForAll(_ numbers: some Collection<Int>, within timeout: Duration) async -> Bool {
        let wanted = Set(numbers)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if wanted.isSubset(of: Set(self.all.map(\.value.n))) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return wanted.isSubset(of: Set(self.all.map(\.value.n)))
    }

    /// Every way the delivery broke "each acknowledged publication exactly once, in order": empty when it held.
    ///
    /// Offsets must run without a hole or a repeat (every publication the broker numbered, acknowledged or
    /// not, is in history and so must be delivered or recovered), in one epoch, and the numbers must grow.
    func problems(acknowledged: [Int]) -> [String] {
        let received = self.all
        var problems: [String] = []
        for (previous, next) in zip(received, received.dropFirst()) {
            if next.offset != previous.offset + 1 {
                problems.append("offset \(next.offset) (n=\(next.value.n)) followed offset \(previous.offset) (n=\(previous.value.n))")
            }
            if next.value.n <= previous.value.n { problems.append("n=\(next.value.n) came after n=\(previous.value.n)") }
            if next.epoch != previous.epoch { problems.append("epoch changed from \(previous.epoch) to \(next.epoch) at offset \(next.offset)") }
        }
        let numbers = Set(received.map(\.value.n))
        let missing = acknowledged.filter { !numbers.contains($0) }
        if !missing.isEmpty { problems.append("\(missing.count) acknowledged publications missing: \(missing.prefix(20))") }
        return Array(problems.prefix(20))
    }

    func describe() -> String {
        let received = self.all
        return "\(received.count) received (n \(received.first?.value.n ?? 0)…\(received.last?.value.n ?? 0), offsets "
            + "\(received.first?.offset ?? 0)…\(received.last?.offset ?? 0)); events \(self.allEvents); \(self.ended ?? "still open")"
    }
}

/// Records every state a client goes through.
final class StateRecorder: Sendable {
    private let states = NIOLockedValueBox<[ConnectionState]>([])

    init(_ client: RealtimeClient) {
        let states = self.states
        let stream = client.states
        Task { for await state in stream { states.withLockedValue { $0.append(state) } } }
    }

    var all: [ConnectionState] { self.states.withLockedValue { $0 } }

    var connections: Int { self.all.filter { if case .connected = $0 { true } else { false } }.count }

    /// Connections lost after the first connect (the recorded states start with "not connected yet").
    var losses: Int {
        let states = self.all
        let firstConnect = states.firstIndex { if case .connected = $0 { true } else { false } } ?? states.endIndex
        return states[firstConnect...].filter {
            switch $0 {
            case .reconnecting, .disconnected: true
            default: false
            }
        }.count
    }
}
