import Testing
@testable import SwitchboardServer

/// Admission control: a second's worth of connections at once, then the rate; the ones refused in a second
/// are told to come back when their turn comes at that rate.
@Suite struct AdmissionControlTests {
    static let second: UInt64 = 1_000_000_000

    @Test func aBurstOfOneSecondsWorthIsAdmittedThenTheRate() {
        let admission = AdmissionControl(ratePerSecond: 10)
        let start = 50 * Self.second
        for _ in 0..<10 { #expect(admission.admit(now: start) == .admitted) }
        #expect(admission.admit(now: start) == .refused(retryAfter: 1))
        // A tenth of a second later, one more.
        #expect(admission.admit(now: start + Self.second / 10) == .admitted)
        #expect(admission.admit(now: start + Self.second / 10) != .admitted)
    }

    @Test func retryAfterGrowsWithTheCrowdRefusedInOneSecondAndStartsOverTheNext() {
        let admission = AdmissionControl(ratePerSecond: 10)
        let start = 50 * Self.second
        for _ in 0..<10 { _ = admission.admit(now: start) }
        let waits = (0..<35).map { _ -> Int in
            guard case .refused(let retryAfter) = admission.admit(now: start) else { return 0 }
            return retryAfter
        }
        // 10 refusals per second of waiting: the 1st–10th come back after 1 s, the 11th–20th after 2 s, …
        #expect(waits == Array(repeating: 1, count: 10) + Array(repeating: 2, count: 10) + Array(repeating: 3, count: 10)
            + Array(repeating: 4, count: 5))
        // The next second starts a new count (and has room for ten again).
        for _ in 0..<10 { #expect(admission.admit(now: start + Self.second) == .admitted) }
        #expect(admission.admit(now: start + Self.second) == .refused(retryAfter: 1))
    }

    @Test func retryAfterIsAtMostAMinute() {
        let admission = AdmissionControl(ratePerSecond: 1)
        _ = admission.admit(now: Self.second)
        var last = AdmissionControl.Decision.admitted
        for _ in 0..<100 { last = admission.admit(now: Self.second) }
        #expect(last == .refused(retryAfter: 60))
    }

    @Test func aLoopLaterThanItsLimitClosesTheNodeToNewcomersAndTheWaitGrowsWhileItLasts() {
        let admission = AdmissionControl(ratePerSecond: 1_000, maxLoopLag: 200_000_000)
        let start = 50 * Self.second
        // Late, but within the limit: nothing changes.
        admission.loopWasLate(by: 150_000_000, now: start)
        #expect(admission.admit(now: start) == .admitted)
        admission.loopWasLate(by: 300_000_000, now: start)
        #expect(admission.admit(now: start) == .overloaded(retryAfter: 2))
        // Still behind three seconds later (probes a quarter of a second apart): the crowd is sent further away.
        var now = start
        while now < start + 3 * Self.second {
            now += Self.second / 4
            admission.loopWasLate(by: 400_000_000, now: now)
        }
        #expect(admission.admit(now: now) == .overloaded(retryAfter: 5))
        // Caught up: once the last late probe's hold has passed, the rate decides again, and a new overload
        // starts from 2 s.
        #expect(admission.admit(now: now + AdmissionControl.overloadHold - 1) != .admitted)
        #expect(admission.admit(now: now + AdmissionControl.overloadHold) == .admitted)
        let later = now + 10 * Self.second
        admission.loopWasLate(by: 250_000_000, now: later)
        #expect(admission.admit(now: later) == .overloaded(retryAfter: 2))
    }

    @Test func aLongOverloadSendsItsCrowdAwayForHalfAMinuteAtMost() {
        let admission = AdmissionControl(ratePerSecond: 10, maxLoopLag: 1)
        var now = Self.second
        admission.loopWasLate(by: 2, now: now)
        for _ in 0..<400 {
            now += Self.second / 4
            admission.loopWasLate(by: 2, now: now)
        }
        #expect(admission.admit(now: now) == .overloaded(retryAfter: 30))
    }

    @Test func withoutALoopLagLimitOnlyTheRateRefuses() {
        let admission = AdmissionControl(ratePerSecond: 10)
        admission.loopWasLate(by: 60 * Self.second, now: Self.second)
        #expect(admission.admit(now: Self.second) == .admitted)
    }
}
