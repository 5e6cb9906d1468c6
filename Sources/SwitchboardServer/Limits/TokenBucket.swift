/// A token bucket: on average `ratePerSecond` events, and at most `burst` at once after a quiet spell.
///
/// A value type with no clock: every call passes the time (nanoseconds on any monotonic scale, such as
/// `DispatchTime.now().uptimeNanoseconds` or a test's counter), so tests can run a week in a millisecond.
/// Counting strikes (commands refused in a row) is left to the caller.
///
/// ## Exactness
/// Tokens are held as integers in units small enough that one nanosecond of refill is a whole number of
/// units, so refilling loses nothing, however often or seldom `take(now:)` is called: after any sequence of
/// calls the bucket has been credited exactly `rate × elapsed` (up to the burst cap). Only the rate itself is
/// rounded once, to a millionth of a token per second (coarser only when a huge burst would not otherwise
/// fit in 64 bits).
///
/// ## Time going backwards
/// A `now` earlier than one already seen credits nothing and does not move the bucket's clock back, so a
/// caller whose timestamps arrive slightly out of order (taken before a lock, applied after) can neither
/// gain tokens from it nor lose any.
public struct TokenBucket: Sendable, Hashable {
    /// One token, in units.
    private let unitsPerToken: UInt64
    /// Units credited per nanosecond: the rate.
    private let unitsPerNanosecond: UInt64
    /// `burst × unitsPerToken`.
    private let capacity: UInt64
    private var units: UInt64
    /// The latest time seen; nil until the first call (the bucket starts full, so when it starts does not matter).
    private var lastRefill: UInt64?

    /// A full bucket.
    ///
    /// - Parameters:
    ///   - ratePerSecond: tokens added per second; zero never refills. Rounded to 10⁻⁶ token/s.
    ///   - burst: the most tokens the bucket holds, and holds at first. At least 1.
    public init(ratePerSecond: Double, burst: Int) {
        precondition(ratePerSecond.isFinite && ratePerSecond >= 0, "rate must be finite and not negative, got \(ratePerSecond)")
        precondition(burst >= 1, "burst must be at least 1, got \(burst)")
        // A token is `1e9 × scale` units, so `rate × scale` whole units arrive per nanosecond. Take the finest
        // scale whose full bucket still fits in 64 bits; dividing both by their GCD keeps the numbers small.
        for scale in [1_000_000, 1_000, 1] as [UInt64] {
            let scaledRate = (ratePerSecond * Double(scale)).rounded()
            guard scaledRate < 0x1p63 else { continue }
            let perNanosecond = UInt64(scaledRate)
            let perToken = 1_000_000_000 * scale
            let divisor = perNanosecond == 0 ? perToken : Self.gcd(perNanosecond, perToken)
            let (capacity, overflow) = UInt64(burst).multipliedReportingOverflow(by: perToken / divisor)
            guard !overflow else { continue }
            self.unitsPerToken = perToken / divisor
            self.unitsPerNanosecond = perNanosecond / divisor
            self.capacity = capacity
            self.units = capacity
            self.lastRefill = nil
            return
        }
        preconditionFailure("token bucket of rate \(ratePerSecond)/s and burst \(burst) does not fit in 64 bits")
    }

    /// Takes one token if there is one at time `now`, and says whether it did.
    public mutating func take(now: UInt64) -> Bool {
        self.refill(now: now)
        guard self.units >= self.unitsPerToken else { return false }
        self.units -= self.unitsPerToken
        return true
    }

    /// Whole tokens available at time `now` (refilling first, as `take` would).
    public mutating func available(now: UInt64) -> Int {
        self.refill(now: now)
        return Int(self.units / self.unitsPerToken)
    }

    private mutating func refill(now: UInt64) {
        guard let last = self.lastRefill else {
            self.lastRefill = now
            return
        }
        guard now > last else { return }  // Backwards or no time: nothing to credit, and the clock stays.
        self.lastRefill = now
        let missing = self.capacity - self.units
        guard missing > 0, self.unitsPerNanosecond > 0 else { return }
        // Compare before multiplying: a long silence (or a huge `now`) must fill the bucket, not overflow.
        let elapsed = now - last
        if elapsed >= missing / self.unitsPerNanosecond + 1 {
            self.units = self.capacity
        } else {
            self.units = min(self.capacity, self.units + elapsed * self.unitsPerNanosecond)
        }
    }

    private static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }
}
