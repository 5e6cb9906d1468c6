import NIOConcurrencyHelpers
import SwitchboardProtocol

/// The last position printed per channel, so that at the end of stdin `switchboard connect` can wait for
/// its own last publication to come back on a channel it also subscribes to before it exits: the publish
/// reply and the push travel separately, and `echo hi | switchboard connect --subscribe chat:x` should
/// print `hi` whichever arrives first.
final class PrintedPositions: Sendable {
    private let positions = NIOLockedValueBox<[String: StreamPosition]>([:])

    func printed(_ position: StreamPosition, in channel: String) {
        self.positions.withLockedValue { $0[channel] = position }
    }

    func hasPrinted(_ position: StreamPosition, in channel: String) -> Bool {
        guard let printed = self.positions.withLockedValue({ $0[channel] }) else { return false }
        // Another epoch: the stream started over, and its newer publications are what was printed.
        return printed.epoch != position.epoch || printed.offset >= position.offset
    }

    /// Returns once `position` was printed in `channel`, or after `timeout`.
    func wait(for position: StreamPosition, in channel: String, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while !self.hasPrinted(position, in: channel), ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}
