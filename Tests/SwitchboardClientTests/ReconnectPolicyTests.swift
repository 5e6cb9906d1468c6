import SwitchboardClient
import Testing

/// A deterministic generator (SplitMix64), so a failing draw can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ReconnectPolicyTests {
    let policy = ReconnectPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(5), maxAttempts: 10)

    @Test func ceilingsDoubleUpToTheCap() {
        let ceilings = (0..<9).map { self.policy.ceiling(forAttempt: $0) }
        #expect(ceilings == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                             .milliseconds(3200), .seconds(5), .seconds(5), .seconds(5)])
        // Huge attempt numbers must not overflow.
        #expect(self.policy.ceiling(forAttempt: 10_000) == .seconds(5))
    }

    @Test func delaysAreFullJitterWithinTheWindow() {
        var generator = SplitMix64(state: 42)
        for attempt in 0..<20 {
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
        var first = SplitMix64(state: 7)
        var second = SplitMix64(state: 7)
        let a = (0..<10).map { self.policy.delay(forAttempt: $0, using: &first) }
        let b = (0..<10).map { self.policy.delay(forAttempt: $0, using: &second) }
        #expect(a == b)
    }
}
