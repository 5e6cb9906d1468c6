import NIOConcurrencyHelpers
import SwitchboardClient
import SwitchboardTestSupport

/// A test failure with a sentence saying what was expected.
struct ClientTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads a subscription in the background from the moment it is made, so waits never lose elements.
final class Collector<Value: Decodable & Sendable>: Sendable {
    private let received = NIOLockedValueBox<[ReceivedPublication<Value>]>([])
    private let events = NIOLockedValueBox<[SubscriptionEvent]>([])
    private let failure = NIOLockedValueBox<String?>(nil)

    init(_ subscription: Subscription<Value>) {
        let received = self.received
        let failure = self.failure
        let events = self.events
        Task {
            do {
                for try await publication in subscription { received.withLockedValue { $0.append(publication) } }
            } catch {
                failure.withLockedValue { $0 = "\(error)" }
            }
        }
        Task {
            for await event in subscription.events { events.withLockedValue { $0.append(event) } }
        }
    }

    var all: [ReceivedPublication<Value>] { self.received.withLockedValue { $0 } }
    var allEvents: [SubscriptionEvent] { self.events.withLockedValue { $0 } }

    /// The first `count` publications, once that many have arrived.
    func first(_ count: Int, within timeout: Duration = TestPatience.default) async throws -> [ReceivedPublication<Value>] {
        do {
            return try await poll("\(count) publications", within: timeout) {
                let all = self.all
                return all.count >= count ? Array(all.prefix(count)) : nil
            }
        } catch {
            throw ClientTestFailure("\(error); got \(self.all.map(\.offset)); ended: \(self.failure.withLockedValue { $0 } ?? "no")")
        }
    }
}

/// Records every state a client goes through.
final class StateRecorder: Sendable {
    private let states = NIOLockedValueBox<[ConnectionState]>([])
    private let task: NIOLockedValueBox<Task<Void, Never>?> = NIOLockedValueBox(nil)

    init(_ client: RealtimeClient) {
        let states = self.states
        let stream = client.states
        self.task.withLockedValue { $0 = Task { for await state in stream { states.withLockedValue { $0.append(state) } } } }
    }

    deinit { self.task.withLockedValue { $0?.cancel() } }

    var all: [ConnectionState] { self.states.withLockedValue { $0 } }

    /// Waits until a recorded state (after the first `after`) matches.
    @discardableResult
    func wait<T>(for what: String, within timeout: Duration = TestPatience.default, after: Int = 0, _ match: @escaping (ConnectionState) -> T?) async throws -> T {
        do {
            return try await poll(what, within: timeout) { self.all.dropFirst(after).lazy.compactMap(match).first }
        } catch {
            throw ClientTestFailure("\(error); states: \(self.all)")
        }
    }

    func connectedCount() -> Int {
        self.all.filter { if case .connected = $0 { true } else { false } }.count
    }
}

/// Counts calls (of a token provider).
final class CallCounter: Sendable {
    private let count = NIOLockedValueBox(0)
    func increment() { self.count.withLockedValue { $0 += 1 } }
    var value: Int { self.count.withLockedValue { $0 } }
}
