import NIOConcurrencyHelpers
import NIOCore

/// Admits new connections (WebSocket upgrades, SSE streams) at `limits.maxConnectsPerSecond`, so that a
/// reconnect storm (a node died, a deploy, a region failing over) arrives as a queue instead of a stampede:
/// each connect costs a handshake, a token check and a history read per channel, and a node that takes them
/// all at once stops answering its heartbeats, which drops more users, who reconnect too.
///
/// Over the rate a connection is refused with 503 and `Retry-After`: the seconds the clients refused in
/// the current second need to get in at the rate, so that a crowd spreads itself out (the SDKs add jitter).
///
/// A fixed rate cannot know what the machine has left, so the node's event loops report how late their
/// timers run (``loopWasLate(by:now:)``): while a loop is later than `maxLoopLag`, the node is behind its
/// own users' heartbeats and deliveries, and every newcomer is refused, with a `Retry-After` that grows
/// the longer the overload lasts. The users already connected keep the CPU; the crowd waits outside.
/// Time is an input (nanoseconds on any monotonic scale); safe from any thread.
final class AdmissionControl: Sendable {
    private struct State {
        var bucket: TokenBucket
        /// Refusals in the current second, which the next `Retry-After` has to make room for.
        var refusedThisSecond = 0
        var second: UInt64 = 0
        /// Overloaded until then (a late loop keeps pushing it on); 0: not overloaded.
        var overloadedUntil: UInt64 = 0
        /// When the current overload began.
        var overloadedSince: UInt64 = 0
    }

    let ratePerSecond: Int
    /// Nanoseconds a loop's timer may run late before newcomers are refused; 0: never refused for it.
    let maxLoopLag: UInt64
    private let state: NIOLockedValueBox<State>

    /// How long one late timer keeps the node closed to newcomers: longer than the probes' period, so a loop
    /// that stays behind keeps it closed without a gap.
    static let overloadHold: UInt64 = 1_000_000_000

    /// - Parameters:
    ///   - ratePerSecond: connections admitted per second on average, and at most at once after a quiet second.
    ///   - maxLoopLag: nanoseconds an event loop may run late before new connections are refused (0: off).
    init(ratePerSecond: Int, maxLoopLag: UInt64 = 0) {
        precondition(ratePerSecond >= 1, "an admission rate is at least 1 per second")
        self.ratePerSecond = ratePerSecond
        self.maxLoopLag = maxLoopLag
        self.state = NIOLockedValueBox(State(bucket: TokenBucket(ratePerSecond: Double(ratePerSecond), burst: ratePerSecond)))
    }

    enum Decision: Sendable, Hashable {
        case admitted
        /// Refused at the rate: try again after this many seconds (1–60).
        case refused(retryAfter: Int)
        /// Refused because the node's loops are behind: try again after this many seconds (2–30).
        case overloaded(retryAfter: Int)
    }

    func admit(now: UInt64) -> Decision {
        self.state.withLockedValue { state in
            if now < state.overloadedUntil {
                // 2 s at first, a second more for each second it has lasted: a long overload sends its crowd
                // further away.
                let lasted = Int((now &- state.overloadedSince) / 1_000_000_000)
                return .overloaded(retryAfter: min(30, 2 + lasted))
            }
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

    /// An event loop's timer ran `lateness` nanoseconds after it was due, at `now`.
    func loopWasLate(by lateness: UInt64, now: UInt64) {
        guard self.maxLoopLag > 0, lateness > self.maxLoopLag else { return }
        self.state.withLockedValue { state in
            if now >= state.overloadedUntil { state.overloadedSince = now }
            state.overloadedUntil = now + Self.overloadHold
        }
    }

    /// The sentence a client refused at the rate reads.
    static func reason(rate: Int, retryAfter: Int) -> String {
        "the server admits \(rate) new connections a second and is at that rate: retry after \(retryAfter) s"
    }

    /// The sentence a client refused while the node is behind reads.
    static func overloadReason(retryAfter: Int) -> String {
        "the server is overloaded (its event loops are running late) and admits no new connections: retry after \(retryAfter) s"
    }
}

extension ServerContext {
    /// Whether a new connection may come in now; when not, counts the refusal and says how long the client
    /// should wait and why. Both transports ask this before anything else costs.
    func admitConnection() -> (retryAfter: Int, reason: String)? {
        switch self.admission.admit(now: NIODeadline.now().uptimeNanoseconds) {
        case .admitted:
            return nil
        case .refused(let retryAfter):
            self.metrics.connectionRefused(.admission)
            return (retryAfter, AdmissionControl.reason(rate: self.admission.ratePerSecond, retryAfter: retryAfter))
        case .overloaded(let retryAfter):
            self.metrics.connectionRefused(.overloaded)
            return (retryAfter, AdmissionControl.overloadReason(retryAfter: retryAfter))
        }
    }
}
