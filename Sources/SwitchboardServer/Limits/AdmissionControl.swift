import NIOConcurrencyHelpers
import NIOCore

/// Admits new connections (WebSocket upgrades, SSE streams) at `limits.maxConnectsPerSecond`, so that a
/// reconnect storm (a node died, a deploy, a region failing over) arrives as a queue instead of a stampede:
/// each connect costs a handshake, a token check and a history read per channel, and a node that takes them
/// all at once stops answering its heartbeats, which drops more users, who reconnect too.
///
/// Over the rate a connection is refused with 503 and `Retry-After`: the seconds the clients refused in
/// the current second need to get in at the rate, so that a crowd spreads itself out (the SDKs add jitter).
/// Time is an input (nanoseconds on any monotonic scale); safe from any thread.
final class AdmissionControl: Sendable {
    private struct State {
        var bucket: TokenBucket
        /// Refusals in the current second, which the next `Retry-After` has to make room for.
        var refusedThisSecond = 0
        var second: UInt64 = 0
    }

    let ratePerSecond: Int
    private let state: NIOLockedValueBox<State>

    /// - Parameter ratePerSecond: connections admitted per second on average, and at most at once after a
    ///   quiet second.
    init(ratePerSecond: Int) {
        precondition(ratePerSecond >= 1, "an admission rate is at least 1 per second")
        self.ratePerSecond = ratePerSecond
        self.state = NIOLockedValueBox(State(bucket: TokenBucket(ratePerSecond: Double(ratePerSecond), burst: ratePerSecond)))
    }

    enum Decision: Sendable, Hashable {
        case admitted
        /// Refused: try again after this many seconds (1–60).
        case refused(retryAfter: Int)
    }

    func admit(now: UInt64) -> Decision {
        self.state.withLockedValue { state in
            if state.bucket.take(now: now) { return .admitted }
            let second = now / 1_000_000_000
            if second != state.second {
                state.second = second
                state.refusedThisSecond = 0
            }
            state.refusedThisSecond += 1
            // The ones refused before this one get in first: this one's turn comes after them.
            let wait = (state.refusedThisSecond + self.ratePerSecond - 1) / self.ratePerSecond
            return .refused(retryAfter: min(60, max(1, wait)))
        }
    }

    /// The sentence a refused client reads.
    static func reason(rate: Int, retryAfter: Int) -> String {
        "the server admits \(rate) new connections a second and is at that rate: retry after \(retryAfter) s"
    }
}

extension ServerContext {
    /// Whether a new connection may come in now; when not, counts the refusal and says how long the client
    /// should wait and why. Both transports ask this before anything else costs.
    func admitConnection() -> (retryAfter: Int, reason: String)? {
        guard case .refused(let retryAfter) = self.admission.admit(now: NIODeadline.now().uptimeNanoseconds) else { return nil }
        self.metrics.connectionRefused(.admission)
        return (retryAfter, AdmissionControl.reason(rate: self.admission.ratePerSecond, retryAfter: retryAfter))
    }
}
