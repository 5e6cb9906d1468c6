/// How long to wait before the next connection attempt: exponential, capped, with jitter.
///
/// Attempt n (1 for the first retry, as every backoff of Switchboard counts) waits a random time in [d/2, d]
/// with d = min(maximum, initial · 2ⁿ⁻¹):
/// doubling spares a Redis that is restarting, and the jitter keeps a hundred nodes that lost Redis at the
/// same moment from reconnecting in lockstep. Half of d is always waited, so retries never collapse to a
/// busy loop. Randomness is an argument, so tests replay it.
public struct ReconnectBackoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5)) {
        precondition(initial > .zero && maximum >= initial, "backoff needs 0 < initial ≤ maximum")
        self.initial = initial
        self.maximum = maximum
    }

    /// The ceiling of attempt `attempt`'s wait (1-based: the retry after the first failure is attempt 1).
    public func ceiling(forAttempt attempt: Int) -> Duration {
        let doublings = min(max(attempt - 1, 0), 30)
        let grown = self.initial * (1 << doublings)
        return min(grown, self.maximum)
    }

    public func delay(forAttempt attempt: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = self.ceiling(forAttempt: attempt)
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        let half = nanoseconds / 2
        return .nanoseconds(Int64.random(in: half...nanoseconds, using: &generator))
    }
}
