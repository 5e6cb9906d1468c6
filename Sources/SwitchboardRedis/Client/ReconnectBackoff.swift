/// How long to wait before the next connection attempt: exponential, capped, with jitter.
///
/// The n-th attempt after a failure waits a random time in [d/2, d] with d = min(maximum, initial · 2ⁿ⁻¹):
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

    /// The ceiling of the wait before attempt `failures + 1` (failures ≥ 1).
    public func ceiling(afterFailures failures: Int) -> Duration {
        let doublings = min(max(failures - 1, 0), 30)
        let grown = self.initial * (1 << doublings)
        return min(grown, self.maximum)
    }

    public func delay(afterFailures failures: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = self.ceiling(afterFailures: failures)
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        let half = nanoseconds / 2
        return .nanoseconds(Int64.random(in: half...nanoseconds, using: &generator))
    }
}
