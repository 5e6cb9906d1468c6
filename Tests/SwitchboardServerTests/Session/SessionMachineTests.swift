import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

/// The session's machine replayed fact by fact (``SessionTranscript``): its connect phase and deadlines,
/// command queue and rate limit. The joins and their races are in SessionMachineSubscriptionTests. No
/// socket, no loop, no sleep: each race is the order of its facts.
@Suite struct SessionMachineTests {
    // MARK: - Connecting

    @Test func aClientThatNeverConnectsIsDisconnectedWhenTheConnectTimeoutComes() {
        let t = SessionTranscript()
        #expect(t.opened() == ["arm 10 s"])
        #expect(t.deadlineReached() == ["disconnect 4500"])
        // The driver ends the session: the deadline already fired, nothing to cancel.
        #expect(t.disconnect(.unauthorized) == ["unregister", "close 4500"])
        #expect(t.deadlineReached() == [])
    }

    @Test func connectingReplacesTheConnectTimeoutWithTheTokensExpiryAndRegistersLast() {
        let t = SessionTranscript()
        _ = t.opened()
        #expect(t.authenticated("alice", expiresIn: 60) == ["arm 60 s", "register alice"])
        // A second verification (a late `connect` racing the URL's token) changes nothing.
        #expect(t.authenticated("alice") == nil)
        #expect(t.machine.identity?.user == "alice")
    }

    @Test func anAnonymousSessionHasNoDeadline() {
        let t = SessionTranscript()
        _ = t.opened()
        #expect(t.authenticated("", expiresIn: nil) == ["cancel deadline", "register "])
        #expect(t.deadlineReached() == [])
    }

    @Test func commandsWaitForTheConnectionsCredentialThenStart() {
        let t = SessionTranscript()
        #expect(t.opened(withCredential: true) == ["arm 10 s", "check credential"])
        #expect(t.command(1, .subscribe(.init(channel: "news"))) == [])
        #expect(t.command(2, .ping) == [])
        #expect(t.authenticated("alice") == ["arm 3600 s", "register alice"])
        #expect(t.credentialChecked() == ["perform 1 subscribe"])
        #expect(t.commandFinished() == ["perform 2 ping"])
    }

    @Test func aRefusedCredentialEndsTheSessionBeforeAnyCommandRuns() {
        let t = SessionTranscript()
        _ = t.opened(withCredential: true)
        #expect(t.command(1, .ping) == [])
        #expect(t.credentialChecked(refusal: .unauthorized) == ["disconnect 4500"])
        #expect(t.disconnect(.unauthorized) == ["cancel deadline", "unregister", "close 4500"])
        #expect(t.commandFinished() == [])
    }

    @Test func aUserOverTheConnectionLimitIsDisconnected() {
        let t = SessionTranscript.connected()
        #expect(t.registrationRefused(.connectionLimit) == ["disconnect 4503"])
    }

    // MARK: - Token expiry

    @Test func anExpiredTokenGets109ThenTheGraceThen4003() {
        let t = SessionTranscript()
        _ = t.opened()
        _ = t.authenticated("alice", expiresIn: 60)
        #expect(t.deadlineReached() == ["push error - 109", "arm 25 s"])
        #expect(t.deadlineReached() == ["disconnect 4003"])
        #expect(t.disconnect(.tokenExpired) == ["unregister", "close 4003"])
    }

    @Test func aRefreshInTheGraceArmsTheNewExpiryFromNow() {
        let t = SessionTranscript()
        _ = t.opened()
        _ = t.authenticated("alice", expiresIn: 60)
        #expect(t.deadlineReached() == ["push error - 109", "arm 25 s"])
        #expect(t.refreshed("alice", expiresIn: 200.5, now: 70) == ["arm 130500 ms"])
        // The refreshed token's own expiry: 109 again, not 4003.
        #expect(t.deadlineReached() == ["push error - 109", "arm 25 s"])
    }

    @Test func aTokenAlreadyExpiredWhenVerifiedIsDueAtOnce() {
        let t = SessionTranscript()
        _ = t.opened()
        #expect(t.authenticated("alice", expiresIn: 60, now: 61) == ["arm 0 s", "register alice"])
    }

    // MARK: - The command queue

    @Test func commandsRunOneAtATimeInArrivalOrder() {
        let t = SessionTranscript.connected()
        #expect(t.command(1, .ping) == ["perform 1 ping"])
        #expect(t.command(2, .history(.init(channel: "news"))) == [])
        #expect(t.commandFinished() == ["perform 2 history"])
        #expect(t.commandFinished() == [])
    }

    @Test func consecutivePublishesHeldTogetherStartAsBatchesInOrder() {
        let t = SessionTranscript.connected(limits: SessionLimits(commandsPerSecond: 100, commandBurst: 100, rateLimitStrikes: 3,
                                                                  maxChannelsPerClient: 2, connectTimeout: 10, tokenRefreshGrace: 25,
                                                                  publishBatchLimit: 3))
        t.holdCommands()
        for id: UInt64 in 1...4 { #expect(t.command(id, .publish(.init(channel: "feed", data: "x"))) == []) }
        #expect(t.command(5, .ping) == [])
        #expect(t.command(6, .publish(.init(channel: "feed", data: "x"))) == [])
        #expect(t.releaseCommands() == ["publish 1,2,3"])
        #expect(t.commandFinished() == ["publish 4"])
        #expect(t.commandFinished() == ["perform 5 ping"])
        #expect(t.commandFinished() == ["publish 6"])
    }

    @Test func aTextThatIsNoCommandIsAnsweredWithItsErrorAndCostsARateLimitToken() {
        let t = SessionTranscript.connected()
        #expect(t.text(#"{"id":7,"type":"fly"}"#) == ["failed 101", "answer error 7 101"])
        #expect(t.binaryArrived() == ["failed 100", "answer error - 100"])
        // The burst of 2 is spent.
        #expect(t.command(8, .ping) == ["failed 201", "answer error 8 201"])
    }

    // MARK: - The rate limit

    @Test func overTheRateEachCommandIsRefusedUntilTheStrikesEndTheSession() {
        let t = SessionTranscript.connected()
        #expect(t.command(1, .ping, at: 0) == ["perform 1 ping"])
        #expect(t.command(2, .ping, at: 0) == [])
        #expect(t.command(3, .ping, at: 0) == ["failed 201", "answer error 3 201"])
        #expect(t.command(4, .ping, at: 0.999) == ["failed 201", "answer error 4 201"])
        // A second after the burst, one token: admitted, and the strikes start over.
        #expect(t.command(5, .ping, at: 1) == [])
        #expect(t.command(6, .ping, at: 1) == ["failed 201", "answer error 6 201"])
        #expect(t.command(7, .ping, at: 1) == ["failed 201", "answer error 7 201"])
        #expect(t.command(8, .ping, at: 1) == ["failed 201", "disconnect 4004"])
    }

    @Test func commandsReadWithTheStrikeThatEndsTheSessionStillStart() {
        let t = SessionTranscript.connected()
        t.holdCommands()
        #expect(t.command(1, .publish(.init(channel: "feed", data: "x"))) == [])
        #expect(t.command(2, .publish(.init(channel: "feed", data: "x"))) == [])
        #expect(t.command(3, .ping) == ["failed 201", "answer error 3 201"])
        #expect(t.command(4, .ping) == ["failed 201", "answer error 4 201"])
        #expect(t.command(5, .ping) == ["failed 201", "disconnect 4004"])
        #expect(t.disconnect(.rateLimited) == ["publish 1,2", "cancel deadline", "unregister", "close 4004"])
        // The batch's answer comes after the close: nothing more starts.
        #expect(t.commandFinished() == [])
    }

    // MARK: - Closing

    @Test func closingAnswersOnlyTheCommandsWhoseCallerWaitsElsewhere() {
        let t = SessionTranscript.connected()
        #expect(t.command(1, .ping) == ["perform 1 ping"])
        #expect(t.command(2, .ping, fromCaller: true) == [])
        // Time for a token to refill.
        #expect(t.command(3, .ping, at: 1) == [])
        #expect(t.transportClosed() == ["cancel deadline", "answer caller error 2 110", "unregister", "close -"])
        #expect(t.transportClosed() == [])
    }

    @Test func aClosedSessionStillAnswersAnSSECommandRequest() {
        let t = SessionTranscript.connected()
        _ = t.transportClosed()
        #expect(t.command(9, .ping, fromCaller: true) == ["answer caller error 9 110"])
        #expect(t.command(10, .ping) == [])
    }
}
