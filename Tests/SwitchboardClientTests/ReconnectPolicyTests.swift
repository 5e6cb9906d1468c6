import SwitchboardClient
import SwitchboardTestSupport
import Testing


@Suite struct ReconnectPolicyTests {
    let policy = ReconnectPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(5), maxAttempts: 10)

    @Test func ceilingsDoubleUpToTheCap() {
        let ceilings = (1...9).map { self.policy.ceiling(forAttempt: $0) }
        #expect(ceilings == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                             .milliseconds(3200), .seconds(5), .seconds(5), .seconds(5)])
        // Huge attempt numbers must not overflow.
        #expect(self.policy.ceiling(forAttempt: 10_000) == .seconds(5))
    }

    @Test func delaysAreFullJitterWithinTheWindow() {
        var generator = SeededGenerator(seed: 42)
        for attempt in 1...20 {
            let ceiling = self.policy.ceiling(forAttempt: attempt)
            var smallest = ceiling
            var largest = Duration.zero
            for _ in 0..<1000 {
                let delay = self.policy.delay(forAttempt: attempt, using: &generator)
                #expect(delay >= .zero && delay <= ceiling, "attempt \(attempt): \(delay) outside [0, \(ceiling)]")
                smallest = min(smallest, delay)
                largest = max(largest, delay)
            }
            // Full jitter: the draws spread over the whole window, not just its top.
            #expect(smallest < ceiling / 10 && largest > ceiling * 9 / 10, "attempt \(attempt): draws in [\(smallest), \(largest)]")
        }
    }

    @Test func theSameSeedGivesTheSameDelays() {
        var first = SeededGenerator(seed: 7)
        var second = SeededGenerator(seed: 7)
        let a = (1...10).map { self.policy.delay(forAttempt: $0, using: &first) }
        let b = (1...10).map { self.policy.delay(forAttempt: $0, using: &second) }
        #expect(a == b)
    }
}
