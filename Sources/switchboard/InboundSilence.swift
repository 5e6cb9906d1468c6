import NIOConcurrencyHelpers

/// When the peer last sent something, so that raw `connect` can tell when replies have stopped coming.
///
/// Raw mode cannot know how many replies its lines will get, and a server answers a close frame at once
/// (RFC 6455 §5.5.1), dropping replies it is still working on: closing at the end of stdin lost replies a
/// node sends after an asynchronous step, such as verifying a `connect`'s token (issue 10). So the close
/// waits for a quiet moment, and a bound keeps a server that never stops talking from holding it open.
final class InboundSilence: Sendable {
    private let clock = ContinuousClock()
    private let lastHeard: NIOLockedValueBox<ContinuousClock.Instant>

    init() {
        self.lastHeard = NIOLockedValueBox(self.clock.now)
    }

    func heard() {
        let now = self.clock.now
        self.lastHeard.withLockedValue { $0 = now }
    }

    /// Returns once nothing has arrived for `quiet` (counted from this call at the earliest), `limit` after
    /// the call at the latest, or when the task is cancelled (the connection ended).
    func wait(quiet: Duration, atMost limit: Duration) async {
        let start = self.clock.now
        let deadline = start + limit
        while true {
            let quietSince = max(self.lastHeard.withLockedValue { $0 }, start)
            let end = min(quietSince + quiet, deadline)
            if self.clock.now >= end { return }
            do { try await Task.sleep(until: end, clock: self.clock) } catch { return }
        }
    }
}
