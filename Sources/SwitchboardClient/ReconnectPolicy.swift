/// How long a ``RealtimeClient`` waits before each reconnect attempt: exponential backoff with full jitter.
///
/// Attempt `n` (1 for the first retry, as in every backoff of Switchboard: the JavaScript client's and the
/// Redis client's count the same way) waits a uniformly random time in `[0, min(maxDelay, baseDelay · 2ⁿ⁻¹)]`.
/// Full jitter spreads the clients of a restarted node over the whole window instead of bunching them at
/// the window's edge (see "Exponential Backoff And Jitter", AWS Architecture Blog, 2015). A server's `delay`
/// hint (disconnect codes 4000–4499) is a lower bound on the wait, never shortened by the jitter.
public struct ReconnectPolicy: Sendable, Hashable {
    /// The ceiling of the first retry's window.
    public var baseDelay: Duration
    /// The largest window, however many attempts have failed.
    public var maxDelay: Duration
    /// Consecutive failed attempts after which the client gives up (`.disconnected`); nil retries forever.
    public var maxAttempts: Int?

    public init(baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(20), maxAttempts: Int? = nil) {
        precondition(baseDelay >= .zero && maxDelay >= .zero, "reconnect delays cannot be negative")
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxAttempts = maxAttempts
    }

    /// The upper bound of attempt `attempt`'s window (1-based): `min(maxDelay, baseDelay · 2^(attempt−1))`.
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let base = Self.nanoseconds(self.baseDelay)
        let cap = Self.nanoseconds(self.maxDelay)
        // Doubling past the cap (or past 2^62 ns) would overflow; the cap wins long before.
        var ceiling = base
        var doublings = max(0, attempt - 1)
        while doublings > 0 && ceiling < cap {
            ceiling = ceiling > Int64.max / 2 ? Int64.max : ceiling * 2
            doublings -= 1
        }
        return .nanoseconds(min(ceiling, cap))
    }

    /// A random wait for attempt `attempt` (1-based), drawn from `generator`: tests inject a seeded one.
    public func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        self.delay(forAttempt: attempt, unit: Double.random(in: 0..<1, using: &generator))
    }

    /// A random wait for attempt `attempt` (1-based), from the system's generator.
    public func delay(forAttempt attempt: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return self.delay(forAttempt: attempt, using: &generator)
    }

    /// The wait for attempt `attempt` when the draw is `unit` (in `[0, 1]`): `unit` × the window's ceiling,
    /// in whole milliseconds (as switchboard.js computes it, so that both clients' transcripts agree).
    func delay(forAttempt attempt: Int, unit: Double) -> Duration {
        Self.fraction(unit, of: Self.nanoseconds(self.ceiling(forAttempt: attempt)))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return Int64.max }
        let (total, overflowAgain) = whole.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowAgain ? Int64.max : total
    }

    /// The wait after a server's `Retry-After` of `seconds`: uniformly random in `[seconds, 2 × seconds]`, so
    /// that the clients one refusal turned away do not all come back in the same instant.
    public static func delay(retryAfter seconds: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        Self.delay(retryAfter: seconds, unit: Double.random(in: 0..<1, using: &generator))
    }

    static func delay(retryAfter seconds: Int, unit: Double) -> Duration {
        let floor = Int64(max(0, seconds)) * 1_000_000_000
        return .nanoseconds(floor) + Self.fraction(unit, of: floor)
    }

    /// `unit` × `nanoseconds`, rounded down to a whole millisecond.
    private static func fraction(_ unit: Double, of nanoseconds: Int64) -> Duration {
        let milliseconds = Double(nanoseconds / 1_000_000) * min(max(unit, 0), 1)
        return .milliseconds(Int64(milliseconds.rounded(.down)))
    }
}
