import Foundation
import NIOConcurrencyHelpers
import SwitchboardTestSupport

/// A back-end publishing numbered messages through `POST /api/publish`, one at a time, and remembering
/// which numbers were acknowledged (HTTP 200). A request that failed in any other way may or may not have
/// been published: those numbers are only "attempted".
final class BackendPublisher: Sendable {
    struct Outcome: Sendable {
        var acknowledged: [Int] = []
        var refused: [Int: Int] = [:]
        var failed: [Int: String] = [:]
        var attempted: Int { self.acknowledged.count + self.refused.count + self.failed.count }
        var summary: String {
            "\(self.acknowledged.count) acknowledged, refused \(self.refused.values.sorted().reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }), "
                + "\(self.failed.count) failed (\(self.failed.values.first ?? "-"))"
        }
    }

    let port: Int
    let channel: String
    private let outcome = NIOLockedValueBox(Outcome())

    init(port: Int, channel: String) {
        self.port = port
        self.channel = channel
    }

    var current: Outcome { self.outcome.withLockedValue { $0 } }

    /// Publishes 1…`count` with `pause` between requests.
    func run(count: Int, pause: Duration) async {
        for number in 1...count {
            await self.publish(number)
            try? await Task.sleep(for: pause)
        }
    }

    func publish(_ number: Int) async {
        let body = Data(#"{"channel":"\#(self.channel)","data":{"n":\#(number)}}"#.utf8)
        do {
            let response = try await LoopbackHTTPRequest.send("POST", port: self.port, path: "/api/publish",
                                                              headers: [("Authorization", "apikey \(ScaleOutCluster.apiKey)")],
                                                              body: body, timeoutSeconds: 10)
            self.outcome.withLockedValue {
                if response.status == 200 { $0.acknowledged.append(number) } else { $0.refused[number] = response.status }
            }
        } catch {
            self.outcome.withLockedValue { $0.failed[number] = "\(error)" }
        }
    }
}
