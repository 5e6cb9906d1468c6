import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

@Suite struct ReconnectBackoffTests {
    @Test func delaysDoubleUpToTheMaximumWithJitterInTheUpperHalf() {
        let backoff = ReconnectBackoff(initial: .milliseconds(100), maximum: .seconds(2))
        #expect((1...7).map { backoff.ceiling(forAttempt: $0) }
                == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .seconds(2), .seconds(2)])
        var generator = SeededGenerator(seed: 7)
        for failures in 1...40 {
            let ceiling = backoff.ceiling(forAttempt: failures)
            for _ in 0..<50 {
                let delay = backoff.delay(forAttempt: failures, using: &generator)
                #expect(delay >= ceiling / 2 && delay <= ceiling)
            }
        }
        // Seeded: the same draws every run.
        var first = SeededGenerator(seed: 1)
        var second = SeededGenerator(seed: 1)
        #expect((1...10).map { backoff.delay(forAttempt: $0, using: &first) } == (1...10).map { backoff.delay(forAttempt: $0, using: &second) })
    }
}
