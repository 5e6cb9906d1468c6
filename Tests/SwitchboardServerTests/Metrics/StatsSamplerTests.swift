import Foundation
import Testing
@testable import SwitchboardServer

@Suite struct StatsSamplerTests {
    func snapshot(in messagesIn: Int = 0, out messagesOut: Int = 0, publications: Int = 0, bytesOut: Int = 0,
                  connections: Int = 0, uptime: Double) -> ServerStats.Snapshot {
        ServerStats.Snapshot(connections: connections, messagesIn: messagesIn, messagesOut: messagesOut, bytesOut: bytesOut,
                             publications: publications, uptime: uptime)
    }

    @Test func firstSampleHasNoRates() {
        var sampler = StatsSampler()
        let sample = sampler.sample(snapshot(in: 500, out: 900, connections: 7, uptime: 10), unixMilliseconds: 1_000)
        #expect(sample == DashboardSample(t: 1_000, connections: 7, subscriptions: 0, channels: 0, messagesInPerSecond: 0,
                                          messagesOutPerSecond: 0, publicationsPerSecond: 0, bytesOutPerSecond: 0,
                                          slowConsumers: 0, uptime: 10))
    }

    /// Rates are the change of each total over the change of the monotonic uptime, not of the wall clock.
    @Test func ratesAreChangesOverMonotonicTime() {
        var sampler = StatsSampler()
        sampler.sample(snapshot(in: 100, out: 1_000, publications: 10, bytesOut: 50_000, uptime: 10), unixMilliseconds: 1_000)
        // Half a second later, although the wall clock jumped back an hour.
        let sample = sampler.sample(snapshot(in: 150, out: 1_600, publications: 12, bytesOut: 80_000, uptime: 10.5),
                                    unixMilliseconds: 1_000 - 3_600_000)
        #expect(sample.messagesInPerSecond == 100)
        #expect(sample.messagesOutPerSecond == 1_200)
        #expect(sample.publicationsPerSecond == 4)
        #expect(sample.bytesOutPerSecond == 60_000)
        // And the next interval is measured from that sample, not the first.
        let next = sampler.sample(snapshot(in: 153, out: 1_600, publications: 12, bytesOut: 80_000, uptime: 11.5), unixMilliseconds: 2_000)
        #expect(next.messagesInPerSecond == 3)
        #expect(next.messagesOutPerSecond == 0)
    }

    /// No time passed, or a snapshot older than the last: rates 0, never infinite or negative, and the next
    /// interval still starts at the newest snapshot.
    @Test func degenerateIntervalsGiveZeroRates() {
        var sampler = StatsSampler()
        sampler.sample(snapshot(in: 100, uptime: 5), unixMilliseconds: 0)
        #expect(sampler.sample(snapshot(in: 200, uptime: 5), unixMilliseconds: 0).messagesInPerSecond == 0)
        #expect(sampler.sample(snapshot(in: 50, uptime: 4), unixMilliseconds: 0).messagesInPerSecond == 0)
        #expect(sampler.sample(snapshot(in: 210, uptime: 6), unixMilliseconds: 0).messagesInPerSecond == 10)
    }

    /// The ring keeps the newest `capacity` samples, oldest first, through many wrap-arounds.
    @Test(arguments: [1, 7, 300, 301, 1_000, 3_001])
    func keepsTheNewestSamplesInOrder(count: Int) {
        var sampler = StatsSampler()
        for second in 0..<count {
            sampler.sample(snapshot(in: second * 10, uptime: Double(second)), unixMilliseconds: Int64(second) * 1000)
        }
        let samples = sampler.samples
        #expect(samples.count == min(count, 300))
        #expect(samples.map(\.t) == (max(0, count - 300)..<count).map { Int64($0) * 1000 })
        #expect(sampler.latest?.t == Int64(count - 1) * 1000)
        if count > 1 {
            #expect(samples.last?.messagesInPerSecond == 10)
        }
    }

    @Test func emptySamplerHasNoLatest() {
        let sampler = StatsSampler(capacity: 3)
        #expect(sampler.samples.isEmpty)
        #expect(sampler.latest == nil)
    }

    /// The JSON the dashboard page reads: exactly these keys.
    @Test func sampleJSONHasTheDocumentedShape() throws {
        let sample = DashboardSample(t: 1_732_170_000_000, connections: 12, subscriptions: 30, channels: 4,
                                     messagesInPerSecond: 8.5, messagesOutPerSecond: 120, publicationsPerSecond: 4,
                                     bytesOutPerSecond: 9600, slowConsumers: 1, uptime: 3600.25)
        let object = try #require(JSONSerialization.jsonObject(with: JSONEncoder().encode(sample)) as? [String: Any])
        #expect(Set(object.keys) == ["t", "connections", "subscriptions", "channels", "messagesInPerSecond",
                                     "messagesOutPerSecond", "publicationsPerSecond", "bytesOutPerSecond",
                                     "slowConsumers", "uptime"])
        #expect((object["t"] as? NSNumber)?.int64Value == 1_732_170_000_000)
        #expect((object["uptime"] as? NSNumber)?.doubleValue == 3600.25)
        #expect(try JSONDecoder().decode(DashboardSample.self, from: JSONEncoder().encode(sample)) == sample)
    }
}
