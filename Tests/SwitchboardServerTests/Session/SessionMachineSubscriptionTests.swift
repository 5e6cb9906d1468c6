import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

/// Subscriptions in the session's machine, fact by fact: a join's recovery with publications arriving
/// before, during and after its history read, gaps, epochs, and the session closing at each point of a join.
/// End to end these races need a broker slowed at the right moment; here each is the order of its facts.
@Suite struct SessionMachineSubscriptionTests {
    /// Joins `channel` up to the history read (the hub has registered the session).
    private func joining(_ channel: String = "news") -> SessionTranscript {
        let t = SessionTranscript.connected()
        #expect(t.joinRequested(channel) == nil)
        #expect(t.hubRetained(channel, succeeded: true) == .readHistory)
        return t
    }

    @Test func publicationsDuringTheHistoryReadAreReplayedAfterItWithoutDuplicates() {
        let t = self.joining()
        // The read will end at offset 5; 4 and 5 are in it, 6 is not.
        #expect(t.publication("news", 4) == "none")
        #expect(t.publication("news", 5) == "none")
        #expect(t.publication("news", 6) == "none")
        #expect(t.historyRead("news", at: 5) == ["4: none", "5: none", "6: send"])
        #expect(t.machine.positions["news"] == StreamPosition(offset: 6, epoch: "e1"))
        #expect(t.publication("news", 7) == "send")
    }

    @Test func aPublicationTheReadAlreadyHadIsNotSentAgain() {
        let t = self.joining()
        // Published after the hub registration but before the history read: in both.
        #expect(t.publication("news", 3) == "none")
        #expect(t.historyRead("news", at: 3) == ["3: none"])
        #expect(t.publication("news", 3) == "none")
        #expect(t.publication("news", 4) == "send")
    }

    @Test func aGapInTheLiveFeedSendsTheClientBackToHistory() {
        let t = self.joining()
        _ = t.historyRead("news", at: 5)
        #expect(t.publication("news", 7) == "resubscribe")
        // The driver ends the subscription; later publications are not for this session.
        #expect(t.subscriptionEnded("news"))
        #expect(t.publication("news", 8) == "none")
    }

    @Test func aGapBetweenTheReadAndTheBufferIsFoundAtReplay() {
        let t = self.joining()
        // The feed lost 6 while the read was in flight: it ended at 5, and 7 came.
        #expect(t.publication("news", 7) == "none")
        #expect(t.historyRead("news", at: 5) == ["7: resubscribe"])
    }

    @Test func aNewEpochIsTakenAsItComes() {
        let t = self.joining()
        _ = t.historyRead("news", at: 5)
        #expect(t.publication("news", 1, epoch: "e2") == "send")
        #expect(t.machine.positions["news"] == StreamPosition(offset: 1, epoch: "e2"))
        #expect(t.publication("news", 2, epoch: "e2") == "send")
    }

    @Test func aJoinThatBuffersTooMuchDisconnectsASlowClient() {
        let t = self.joining()
        for offset: UInt64 in 1...3 { #expect(t.publication("news", offset) == "none") }
        #expect(t.publication("news", 4) == "disconnect 4001")
    }

    @Test func aFeedInterruptionSendsOnlyLiveSubscriptionsBackToHistory() {
        let t = self.joining()
        #expect(!t.machine.feedInterrupted(in: "news"))
        _ = t.historyRead("news", at: 5)
        #expect(t.machine.feedInterrupted(in: "news"))
        #expect(t.machine.presenceChangeArrived(in: "news"))
        #expect(!t.machine.presenceChangeArrived(in: "sport"))
    }

    // MARK: - Refusals and failures

    @Test func aSecondJoinAndOneOverTheLimitAreRefused() {
        let t = SessionTranscript.connected()
        #expect(t.joinRequested("news") == nil)
        #expect(t.joinRequested("news")?.code == .alreadySubscribed)
        #expect(t.joinRequested("sport") == nil)
        #expect(t.joinRequested("weather")?.code == .limitExceeded)
    }

    @Test func aJoinTheHubCannotServeFailsAndCanBeTriedAgain() {
        let t = SessionTranscript.connected()
        #expect(t.joinRequested("news") == nil)
        #expect(t.hubRetained("news", succeeded: false) == .failed)
        #expect(t.joinRequested("news") == nil)
    }

    @Test func aFailedHistoryReadEndsTheJoin() {
        let t = self.joining()
        #expect(t.historyFailed("news"))
        #expect(t.machine.positions.isEmpty)
        #expect(t.publication("news", 1) == "none")
        #expect(t.joinRequested("news") == nil)
    }

    // MARK: - The session closing during a join

    @Test func closingBeforeTheHubAnswersLeavesNothingAndTheAnswerFindsTheJoinGone() {
        let t = SessionTranscript.connected()
        #expect(t.joinRequested("news") == nil)
        // Not in the hub yet: nothing to leave. The hub's answer is released by the driver.
        #expect(t.transportClosed() == ["cancel deadline", "unregister", "close -"])
        #expect(t.hubRetained("news", succeeded: true) == .gone)
    }

    @Test func closingDuringTheHistoryReadLeavesTheFeedAndTheReadFindsTheJoinGone() {
        let t = self.joining()
        #expect(t.publication("news", 1) == "none")
        #expect(t.transportClosed() == ["cancel deadline", "unregister", "leave news", "close -"])
        #expect(t.historyRead("news", at: 1) == nil)
        #expect(!t.historyFailed("news"))
    }

    @Test func closingLeavesEveryChannelInTheHub() {
        let t = self.joining("news")
        _ = t.historyRead("news", at: 0)
        #expect(t.joinRequested("sport") == nil)
        #expect(t.hubRetained("sport", succeeded: true) == .readHistory)
        #expect(Set(t.disconnect(.forced)) == ["cancel deadline", "unregister", "leave news", "leave sport", "close 4501"])
    }
}
