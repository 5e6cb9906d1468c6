import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import Testing
@testable import SwitchboardRedis

/// The subscriber's bookkeeping without a connection: counted interest and confirmations matched in order.
@Suite struct SubscriptionTableTests {
    let loop = EmbeddedEventLoop()

    func subscribe(_ table: inout SubscriptionTable, _ names: [String]) -> (send: [String], waiters: [EventLoopPromise<Void>]) {
        guard case .subscribe(let send, let waiters) = table.subscribeRequested(names, makePromise: { self.loop.makePromise() }) else {
            Issue.record("refused")
            return ([], [])
        }
        return (send, waiters)
    }

    @Test func refusesWhileDisconnectedAndCountsInterest() {
        var table = SubscriptionTable()
        guard case .fail = table.subscribeRequested(["a"], makePromise: { self.loop.makePromise() }) else {
            Issue.record("should refuse without a connection")
            return
        }
        #expect(table.connectionEstablished() == [])
        let first = self.subscribe(&table, ["a"])
        #expect(first.send == ["a"])
        let second = self.subscribe(&table, ["a"])
        #expect(second.send == [])  // no second SUBSCRIBE, but it waits for the same confirmation
        #expect(second.waiters.count == 1)
        for waiter in table.confirmationReceived(.subscribe, for: "a") { waiter.succeed() }
        #expect(isDone(first.waiters[0]) && isDone(second.waiters[0]))
        #expect(table.unsubscribeRequested(["a"]) == [])
        #expect(table.unsubscribeRequested(["a"]) == ["a"])
        #expect(!table.isSubscribed("a"))
    }

    /// unsubscribe → subscribe before Redis confirmed the unsubscribe: the subscribe waits for its own
    /// confirmation, not the one still due for the first SUBSCRIBE.
    @Test func aSubscribeWaitsForItsOwnConfirmation() {
        var table = SubscriptionTable()
        _ = table.connectionEstablished()
        let first = self.subscribe(&table, ["a"])
        #expect(table.unsubscribeRequested(["a"]) == ["a"])
        let again = self.subscribe(&table, ["a"])
        #expect(again.send == ["a"])
        for waiter in table.confirmationReceived(.subscribe, for: "a") { waiter.succeed() }
        #expect(isDone(first.waiters[0]))
        #expect(!isDone(again.waiters[0]))
        #expect(table.confirmationReceived(.unsubscribe, for: "a").isEmpty)
        #expect(!isDone(again.waiters[0]))
        for waiter in table.confirmationReceived(.subscribe, for: "a") { waiter.succeed() }
        #expect(isDone(again.waiters[0]))
        #expect(table.isSubscribed("a"))
    }

    @Test func aLostConnectionFailsWaitersAndTheNextOneResubscribes() {
        var table = SubscriptionTable()
        _ = table.connectionEstablished()
        _ = self.subscribe(&table, ["a", "b"])
        let pending = self.subscribe(&table, ["c"])
        for waiter in table.confirmationReceived(.subscribe, for: "a") { waiter.succeed() }
        for waiter in table.confirmationReceived(.subscribe, for: "b") { waiter.succeed() }
        let failing = table.connectionLost()
        #expect(failing.count == 1)
        for waiter in failing { waiter.fail(RedisClientError.connectionClosed) }
        _ = pending
        // The caller of the failed subscribe gives its interest back.
        #expect(table.unsubscribeRequested(["c"]) == [])
        #expect(table.connectionEstablished() == ["a", "b"])
    }
}

/// Whether the promise was completed (an embedded loop runs callbacks of completed futures at once).
private func isDone(_ promise: EventLoopPromise<Void>) -> Bool {
    let done = NIOLockedValueBox(false)
    promise.futureResult.whenComplete { _ in done.withLockedValue { $0 = true } }
    return done.withLockedValue { $0 }
}
