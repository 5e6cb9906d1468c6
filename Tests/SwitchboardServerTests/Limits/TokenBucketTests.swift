import Testing
@testable import SwitchboardServer

@Suite struct TokenBucketTests {
    let second: UInt64 = 1_000_000_000

    /// Tries to take one token at each time in turn; whether each succeeded. (`#expect` cannot call a
    /// mutating method itself.)
    func attempts(_ bucket: inout TokenBucket, at times: [UInt64]) -> [Bool] {
        times.map { bucket.take(now: $0) }
    }

    /// Takes tokens at one instant until refused; returns how many it got.
    func drain(_ bucket: inout TokenBucket, now: UInt64) -> Int {
        var taken = 0
        while bucket.take(now: now) { taken += 1 }
        return taken
    }

    /// A fresh bucket holds exactly `burst`, whatever time it is first used at.
    @Test(arguments: [0, 1, 987_654_321_012] as [UInt64])
    func startsFullWithExactlyBurst(start: UInt64) {
        var bucket = TokenBucket(ratePerSecond: 50, burst: 100)
        let taken = drain(&bucket, now: start)
        #expect(taken == 100)
        #expect(attempts(&bucket, at: [start]) == [false])
    }

    /// 50/s is one token per 20 ms: not one nanosecond sooner.
    @Test func refillsOneTokenPerIntervalToTheNanosecond() {
        var bucket = TokenBucket(ratePerSecond: 50, burst: 100)
        _ = drain(&bucket, now: 0)
        let results = attempts(&bucket, at: [20_000_000 - 1, 20_000_000, 20_000_000, 40_000_000 - 1, 40_000_000])
        #expect(results == [false, true, false, false, true])
    }

    /// Fractions of a token carry over between calls: at 100/s (a token per 10 ms), calls 7 ms apart give
    /// a token at 14 ms and the next at 20 ms, although no single gap is worth a whole token.
    @Test func partialRefillsAccumulate() {
        var bucket = TokenBucket(ratePerSecond: 100, burst: 2)
        _ = drain(&bucket, now: 0)
        // At 14 ms 1.4 tokens are credited: one taken, 0.4 kept, and 0.6 more arrive by 20 ms.
        let results = attempts(&bucket, at: [7_000_000, 14_000_000, 19_999_999, 20_000_000])
        #expect(results == [false, true, false, true])
    }

    /// A full bucket gains nothing: credit past the burst is lost, as in the continuous model (a bucket of
    /// one token at 100/s that filled at 10 ms has, at 14 ms, one token, not 1.4).
    @Test func creditPastAFullBucketIsLost() {
        var bucket = TokenBucket(ratePerSecond: 100, burst: 1)
        // The third would have succeeded had the 0.4 been kept.
        let results = attempts(&bucket, at: [0, 14_000_000, 20_000_000, 24_000_000 - 1, 24_000_000])
        #expect(results == [true, true, false, false, true])
    }

    /// However long the silence, the bucket holds `burst` and no more.
    @Test(arguments: [1, 10, 3600 * 24 * 365] as [UInt64])
    func refillIsCappedAtBurst(silentSeconds: UInt64) {
        var bucket = TokenBucket(ratePerSecond: 50, burst: 100)
        _ = drain(&bucket, now: 0)
        let available = bucket.available(now: silentSeconds * second)
        let taken = drain(&bucket, now: silentSeconds * second)
        #expect(available == min(100, Int(silentSeconds) * 50))
        #expect(taken == available)
    }

    /// A `now` near the top of UInt64 after a start at 0 neither overflows nor over-fills.
    @Test func hugeGapsDoNotOverflow() {
        var bucket = TokenBucket(ratePerSecond: 1_000_000, burst: 10_000)
        _ = drain(&bucket, now: 0)
        let taken = drain(&bucket, now: .max)
        #expect(taken == 10_000)
    }

    /// Time going backwards credits nothing, and the bucket's clock does not move back: returning to the
    /// latest time seen gives nothing either, so a jump back and forth cannot mint tokens.
    @Test func timeGoingBackwardsIsHarmless() {
        var bucket = TokenBucket(ratePerSecond: 1, burst: 1)
        // Back to 5 s, then 10 s again (not credited twice), then exactly one second after the latest time seen.
        let results = attempts(&bucket, at: [10 * second, 5 * second, 10 * second, 11 * second - 1, 11 * second])
        #expect(results == [true, false, false, false, true])
    }

    /// A million irregular calls (hundreds of thousands of simulated seconds) to a bucket taken whenever it
    /// can be grant exactly `burst + ⌊rate × t⌋`: no drift, whether the time per token is a whole number of
    /// nanoseconds (50/s) or not (3/s, 0.3333/s, 7.25/s).
    @Test(arguments: [(3.0, 5), (50.0, 100), (0.3333, 2), (7.25, 2)])
    func longRunsGrantExactlyRateTimesTime(rate: Double, burst: Int) {
        var bucket = TokenBucket(ratePerSecond: rate, burst: burst)
        var granted = drain(&bucket, now: 0)
        // Steps under half the time per token: the bucket (burst ≥ 2) never fills again, so no credit is
        // lost to the cap and the count must match the formula exactly.
        let maxStep = UInt64(Double(second) / rate / 2)
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15    // a fixed LCG, so a failure reproduces
        var now: UInt64 = 0
        for _ in 0..<1_000_000 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            now += 1 + (seed >> 33) % maxStep
            if bucket.take(now: now) { granted += 1 }
        }
        // ⌊rate × now⌋ without floating point: the rate is a whole number of micro-tokens per second.
        let microTokensPerSecond = UInt64((rate * 1_000_000).rounded())
        let (tokens, _) = (1_000_000 * second).dividingFullWidth(now.multipliedFullWidth(by: microTokensPerSecond))
        #expect(granted == burst + Int(tokens), "rate \(rate)/s over \(now) ns")
    }

    /// Zero rate: the burst, then nothing, ever.
    @Test func zeroRateNeverRefills() {
        var bucket = TokenBucket(ratePerSecond: 0, burst: 3)
        let first = drain(&bucket, now: 0)
        let later = drain(&bucket, now: 1_000 * 3600 * second)
        #expect(first == 3)
        #expect(later == 0)
    }

    /// A burst too big for micro-token resolution still works, at a coarser rate resolution.
    @Test func veryLargeBurstFits() {
        var bucket = TokenBucket(ratePerSecond: 1.000001, burst: 1_000_000)
        let full = bucket.available(now: 0)
        let took = bucket.take(now: 0)
        let afterOne = bucket.available(now: 0)
        let refilled = bucket.available(now: second)
        #expect((full, took, afterOne, refilled) == (1_000_000, true, 999_999, 1_000_000))
    }
}
