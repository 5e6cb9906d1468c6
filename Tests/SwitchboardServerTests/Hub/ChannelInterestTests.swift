import NIOConcurrencyHelpers
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing
@testable import SwitchboardServer

/// The node's interest in channels: broker calls in order per channel, and nobody reading history before
/// the node receives the channel.
struct ChannelInterestTests {
    /// A broker whose `subscribe` waits until the test opens its gate, and which records the calls that
    /// reached it in the order they completed.
    final class GatedBroker: Broker {
        let calls = NIOLockedValueBox<[String]>([])
        let gate = NIOLockedValueBox<[CheckedContinuation<Void, any Error>]>([])
        let failNext = NIOLockedValueBox(false)

        func subscribe(_ channel: String) async throws {
            try await withCheckedThrowingContinuation { continuation in self.gate.withLockedValue { $0.append(continuation) } }
            self.calls.withLockedValue { $0.append("subscribe \(channel)") }
        }
        /// Slower than an opened subscribe: a subscribe not chained after it would overtake it.
        func unsubscribe(_ channel: String) async throws {
            try await Task.sleep(for: .milliseconds(30))
            self.calls.withLockedValue { $0.append("unsubscribe \(channel)") }
        }

        /// Subscribes waiting at the gate.
        var waiting: Int { self.gate.withLockedValue { $0.count } }

        /// Lets the oldest waiting subscribe finish (or fail).
        func open(failing: Bool = false) async {
            while true {
                let next = self.gate.withLockedValue { $0.isEmpty ? nil : $0.removeFirst() }
                if let next {
                    if failing { next.resume(throwing: BrokerError("refused")) } else { next.resume() }
                    return
                }
                await Task.yield()
            }
        }

        func start(handler: any BrokerEventHandler) async throws {}
        func shutdown() async {}
        func publish(_ data: RawJSON, to channel: String, info: ClientInfo?, history: HistoryRetention) async throws -> Publication {
            throw BrokerError("not used here")
        }
        func history(of channel: String, since: StreamPosition?, limit: Int, retention: HistoryRetention) async throws -> BrokerHistory {
            throw BrokerError("not used here")
        }
        func storeTicket(_ ticket: String, grant: [UInt8], ttl: Int) async throws { throw BrokerError("not used here") }
        func redeemTicket(_ ticket: String) async throws -> TicketRedemption { throw BrokerError("not used here") }
        func addPresence(_ client: ClientInfo, to channel: String, ttl: Int) async throws {}
        func removePresence(client: String, from channel: String) async throws {}
        func presence(of channel: String) async throws -> [ClientInfo] { [] }
        func publishPresenceEvent(_ event: PresenceChange, client: ClientInfo, channel: String) async throws {}
    }

    @Test func aSecondSubscriberWaitsForTheNodesSubscribe() async throws {
        let broker = GatedBroker()
        let interest = ChannelInterest(broker: broker)
        let finished = NIOLockedValueBox<[String]>([])
        async let first: Bool = { let value = try await interest.retain("c"); finished.withLockedValue { $0.append("first") }; return value }()
        async let second: Bool = { let value = try await interest.retain("c"); finished.withLockedValue { $0.append("second") }; return value }()
        // Both are in and the node's subscribe is at the broker's gate: from here on nobody may go on.
        #expect(await eventually { interest.subscriptionCount == 2 && broker.waiting == 1 })
        #expect(finished.withLockedValue { $0 }.isEmpty, "nobody may go on before the broker subscribed")
        await broker.open()
        let results = try await [first, second]
        #expect(results.sorted { !$0 && $1 } == [false, true])
        #expect(broker.calls.withLockedValue { $0 } == ["subscribe c"])
    }

    @Test func leavingAndComingBackReachesTheBrokerInOrder() async throws {
        let broker = GatedBroker()
        let interest = ChannelInterest(broker: broker)
        async let first = interest.retain("c")
        await broker.open()
        _ = try await first
        #expect(interest.release("c"))
        // Back at once: this subscribe must reach the broker after the unsubscribe, not before.
        async let again = interest.retain("c")
        await broker.open()
        #expect(try await again)
        #expect(broker.calls.withLockedValue { $0 } == ["subscribe c", "unsubscribe c", "subscribe c"])
        #expect(interest.channelCount == 1)
    }

    @Test func aFailedSubscribeIsThrownToEveryWaiterAndUncounted() async throws {
        let broker = GatedBroker()
        let interest = ChannelInterest(broker: broker)
        let first = Task { try await interest.retain("c") }
        let second = Task { try await interest.retain("c") }
        // Both wait for the same subscribe before it fails.
        #expect(await eventually { interest.subscriptionCount == 2 && broker.waiting == 1 })
        await broker.open(failing: true)
        await #expect(throws: BrokerError.self) { _ = try await first.value }
        await #expect(throws: BrokerError.self) { _ = try await second.value }
        #expect(interest.subscriptionCount == 0)
        #expect(interest.loops(subscribedTo: "c").isEmpty)
        // The next subscriber starts over.
        async let retry = interest.retain("c")
        await broker.open()
        #expect(try await retry)
        #expect(broker.calls.withLockedValue { $0 } == ["subscribe c"])
    }

    @Test func releasingTheLastSubscriptionLeavesNoChannel() async throws {
        let broker = GatedBroker()
        let interest = ChannelInterest(broker: broker)
        async let first = interest.retain("c")
        await broker.open()
        _ = try await first
        #expect(interest.release("c"))
        #expect(interest.channelCount == 0)
        #expect(interest.subscriptionCount == 0)
    }

    /// A million personal channels each keeping its finished subscribe task were 1.3 KB a user.
    @Test func aChannelTheNodeReceivesKeepsNoBrokerCall() async throws {
        let broker = GatedBroker()
        let interest = ChannelInterest(broker: broker)
        async let first = interest.retain("c")
        #expect(await eventually { broker.waiting == 1 })
        #expect(interest.callsKept == 1)
        await broker.open()
        _ = try await first
        #expect(interest.callsKept == 0)
        // Joining a channel the node already receives starts no call and waits for none.
        #expect(try await interest.retain("c") == false)
        #expect(interest.callsKept == 0)
        #expect(interest.subscriptionCount == 2)
        // A failed subscribe stays until its last waiter has gone, then the channel is forgotten.
        _ = interest.release("c")
        _ = interest.release("c")
        #expect(await eventually { interest.callsKept == 0 && interest.channelCount == 0 })
        let failing = Task { try await interest.retain("d") }
        #expect(await eventually { broker.waiting == 1 })
        await broker.open(failing: true)
        await #expect(throws: BrokerError.self) { _ = try await failing.value }
        #expect(interest.callsKept == 0)
        #expect(interest.channelCount == 0)
    }
}
