import Foundation
import Histogram

/// Everything measured in one rate step.
struct StepResult: Sendable {
    var targetRate: Double
    /// The send window.
    var seconds: Double
    /// Live subscribers when the step started: each should receive every publication.
    var subscribers: Int
    var publications: StepPublications
    /// Publish requests still unanswered when the drain ended. The server may have published (and
    /// delivered) them already, so `received` can exceed `expected` by up to this times the subscribers.
    var unanswered: Int
    var deliveries: StepDeliveries
    /// From the step's start to its last delivery: the time the server took to deliver it.
    var deliverySeconds: Double
    var serverCPUPercent: Double?
    var serverSystemPercent: Double?
    /// The server's core, whoever used it (softirq included): near 100 means the server's core is the limit.
    var serverCorePercent: Double?
    var serverResidentMegabytes: Double?
    var clientCPUPercent: Double?

    var achievedRate: Double { Double(self.publications.published) / self.seconds }
    var deliveredRate: Double { self.deliverySeconds > 0 ? Double(self.deliveries.received) / self.deliverySeconds : 0 }
    var expected: UInt64 { UInt64(self.publications.published) * UInt64(self.subscribers) }
    var missing: UInt64 { self.expected > self.deliveries.received ? self.expected - self.deliveries.received : 0 }

    /// Delivery latency at `percentile`, milliseconds (the histogram holds microseconds).
    func latency(_ percentile: Double) -> Double {
        Double(self.deliveries.latency.valueAtPercentile(percentile)) / 1000
    }
}

/// The results table: one row per step, printed as each step ends and again at the end.
enum StepTable {
    private static let columns: [(title: String, width: Int)] = [
        ("target/s", 8), ("pub/s", 8), ("deliv/s", 10), ("expected", 11), ("received", 11), ("missing", 9),
        ("gap", 4), ("dup", 4), ("p50 ms", 8), ("p99 ms", 8), ("p99.9 ms", 8), ("max ms", 8),
        ("HTTP p99", 8), ("srv CPU%", 8), ("srv sys%", 8), ("srv core%", 9), ("srv MB", 6), ("cli CPU%", 8),
    ]

    static var header: String {
        self.line(self.columns.map(\.title))
    }

    static func row(_ result: StepResult) -> String {
        let roundTripP99 = Double(result.publications.roundTrip.valueAtPercentile(99)) / 1000
        return self.line([
            Self.number(result.targetRate, 0), Self.number(result.achievedRate, 1), Self.number(result.deliveredRate, 0),
            "\(result.expected)", "\(result.deliveries.received)", "\(result.missing)",
            "\(result.deliveries.gaps)", "\(result.deliveries.duplicates)",
            Self.number(result.latency(50), 2), Self.number(result.latency(99), 2), Self.number(result.latency(99.9), 2),
            Self.number(result.latency(100), 2), Self.number(roundTripP99, 2),
            result.serverCPUPercent.map { Self.number($0, 0) } ?? "-",
            result.serverSystemPercent.map { Self.number($0, 0) } ?? "-",
            result.serverCorePercent.map { Self.number($0, 0) } ?? "-",
            result.serverResidentMegabytes.map { Self.number($0, 0) } ?? "-",
            result.clientCPUPercent.map { Self.number($0, 0) } ?? "-",
        ])
    }

    static let legend = """
        target/s, pub/s: publications a second scheduled, and answered 200 by POST /api/publish
        deliv/s: publications received by all subscribers a second, from the step's start to its last delivery
        expected = answered publications x live subscribers; missing = expected - received (after the drain)
        gap, dup: offsets a subscriber skipped or saw twice; p50..max: delivery latency (intended send to receipt)
        HTTP p99: publish request round trip, ms; srv/cli CPU%: percent of one core over the step (srv sys%: the
        kernel's part); srv core%: how busy the server's pinned core was, softirq (loopback TCP input) and other
        processes included; srv MB: server RSS
        """

    /// What a row cannot show: requests the drain did not see answered.
    static func notes(_ results: [StepResult]) -> [String] {
        results.filter { $0.unanswered > 0 }.map { result in
            "at \(Int(result.targetRate)) pub/s \(result.unanswered) publish requests were unanswered after the drain: "
                + "their deliveries count as received, not as expected"
        }
    }

    private static func line(_ cells: [String]) -> String {
        zip(cells, self.columns).map { cell, column in
            String(repeating: " ", count: max(0, column.width - cell.count)) + cell
        }.joined(separator: " ")
    }

    private static func number(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
