import SwitchboardClient
import SwitchboardProtocol

/// Publishes stdin lines for `switchboard connect`, one at a time so they arrive in order, and counts failures.
///
/// A publication the server refuses with 201 (rate limited) or 202 (unavailable) is sent again after a
/// pause: docs/PROTOCOL.md says of both that nothing was done, so resending cannot publish twice, and a file
/// piped into the command should arrive whole even when it is faster than the node's `commandsPerSecond`.
/// Every other failure is reported and the line skipped; a publication lost with its connection is never
/// resent (it may have been published).
struct LinePublisher: Sendable {
    var client: RealtimeClient
    /// nil when there is no channel to publish to (each line then fails).
    var channel: String?
    /// The first pause after a refusal; it doubles up to ``maximumPause`` while refusals continue.
    var firstPause: Duration = .milliseconds(50)
    var maximumPause: Duration = .seconds(2)

    private var console: Console { Console.shared }

    /// Publishes every non-empty line; returns the last acknowledged position and how many lines failed.
    func publish(_ lines: StandardInputLines) async -> (lastAcknowledged: StreamPosition?, failures: Int) {
        var failures = 0
        var lastAcknowledged: StreamPosition?
        var toldAboutPausing = false
        for await line in lines where !line.isEmpty {
            guard let channel = self.channel else {
                self.console.note("cannot publish: no channel (pass --publish CHANNEL or --subscribe CHANNEL)")
                failures += 1
                continue
            }
            let value = CommandLineJSON.value(of: line)
            var pause = self.firstPause
            while !Task.isCancelled {
                do {
                    let position = try await self.client.publish(value, to: channel)
                    self.console.note("published to \(channel) #\(position.offset)")
                    lastAcknowledged = position
                } catch let error as RealtimeClientError where Self.isNotExecuted(error) {
                    if !toldAboutPausing {
                        self.console.note("\(error); pausing and resending (further pauses are not reported)")
                        toldAboutPausing = true
                    }
                    try? await Task.sleep(for: pause)
                    pause = min(pause * 2, self.maximumPause)
                    continue
                } catch {
                    self.console.note("publish to \(channel) failed: \(error)")
                    failures += 1
                }
                break
            }
        }
        return (lastAcknowledged, failures)
    }

    /// docs/PROTOCOL.md, error codes: 201 "the command was not executed", 202 "nothing was done".
    static func isNotExecuted(_ error: RealtimeClientError) -> Bool {
        error.protocolCode == .rateLimited || error.protocolCode == .unavailable
    }
}
