import Foundation
import Metrics
import Testing
@testable import SwitchboardServer

@Suite struct DashboardFeedTests {
    let start = ContinuousClock.now

    /// An SSE event's name and its one `data` line.
    func parse(_ event: String) throws -> (name: String, data: Data) {
        #expect(event.hasSuffix("\n\n"), "an event ends with a blank line")
        let lines = event.split(separator: "\n")
        let name = try #require(lines.first { $0.hasPrefix("event: ") }).dropFirst("event: ".count)
        let data = try #require(lines.first { $0.hasPrefix("data: ") }).dropFirst("data: ".count)
        #expect(lines.filter { $0.hasPrefix("data: ") }.count == 1)
        return (String(name), Data(data.utf8))
    }

    /// A page gets the history first, then each new sample, with rates computed from the stats.
    @Test func streamStartsWithHistoryThenSamples() async throws {
        let stats = ServerStats(startedAt: self.start)
        let metrics = ServerMetrics(factory: NOOPMetricsHandler.instance, stats: stats)
        let feed = DashboardFeed(stats: stats)
        feed.tick(now: self.start + .seconds(1), unixMilliseconds: 1_000)
        feed.tick(now: self.start + .seconds(2), unixMilliseconds: 2_000)

        let events = try #require(feed.events())
        var iterator = events.makeAsyncIterator()
        let history = try parse(try #require(await iterator.next()))
        #expect(history.name == "history")
        #expect(try JSONDecoder().decode([DashboardSample].self, from: history.data).map(\.t) == [1_000, 2_000])

        for _ in 0..<30 { metrics.messageReceived(bytes: 10) }
        metrics.connectionOpened(.sse)
        feed.tick(now: self.start + .seconds(3), unixMilliseconds: 3_000)
        let event = try parse(try #require(await iterator.next()))
        #expect(event.name == "sample")
        let sample = try JSONDecoder().decode(DashboardSample.self, from: event.data)
        #expect(sample.t == 3_000)
        #expect(sample.connections == 1)
        #expect(sample.messagesInPerSecond == 30)
        #expect(sample.uptime == 3)
        #expect(feed.samples.count == 3)
    }

    /// Only the newest samples wait for a page that does not read; the oldest are dropped.
    @Test func aSlowPageDropsOldSamplesInsteadOfGrowing() async throws {
        let feed = DashboardFeed(stats: ServerStats(startedAt: self.start))
        let events = try #require(feed.events())
        for second in 1...100 {
            feed.tick(now: self.start + .seconds(second), unixMilliseconds: Int64(second))
        }
        feed.finish()
        var received: [String] = []
        for await event in events { received.append(event) }
        #expect(received.count == DashboardFeed.streamBuffer)
        let last = try JSONDecoder().decode(DashboardSample.self, from: parse(try #require(received.last)).data)
        #expect(last.t == 100)
    }

    /// Streams beyond the cap are refused; one that ends frees its place.
    @Test func subscribersAreCappedAndUnsubscribeWhenTheyEnd() async throws {
        let feed = DashboardFeed(stats: ServerStats(), maxSubscribers: 2)
        var first = feed.events()
        let second = feed.events()
        #expect(first != nil && second != nil)
        #expect(feed.events() == nil)
        #expect(feed.subscriberCount == 2)

        // A page that goes away: its stream is dropped, which terminates it.
        first = nil
        #expect(first == nil)
        #expect(feed.subscriberCount == 1)
        #expect(feed.events() != nil)
        withExtendedLifetime(second) {}
    }

    /// Shutdown ends every open stream, and a stream opened afterwards gets its history and ends at once.
    @Test func finishEndsEveryStream() async throws {
        let feed = DashboardFeed(stats: ServerStats(startedAt: self.start))
        feed.tick(now: self.start + .seconds(1), unixMilliseconds: 1)
        let open = try #require(feed.events())
        feed.finish()
        #expect(feed.subscriberCount == 0)
        var count = 0
        for await _ in open { count += 1 }
        #expect(count == 1)

        let late = try #require(feed.events())
        var names: [String] = []
        for await event in late { names.append(try parse(event).name) }
        #expect(names == ["history"])
        #expect(feed.subscriberCount == 0)
    }

    /// The run loop samples on its own and, when its task is cancelled, ends the streams.
    @Test func runLoopTicksUntilCancelled() async throws {
        let feed = DashboardFeed(stats: ServerStats())
        let events = try #require(feed.events())
        let loop = Task { await feed.run(every: .milliseconds(10)) }
        var names: [String] = []
        for await event in events {
            names.append(try parse(event).name)
            if names.count == 4 { loop.cancel() }
        }
        await loop.value
        #expect(names.first == "history")
        #expect(names.count >= 4)
        #expect(names.dropFirst().allSatisfy { $0 == "sample" })
        #expect(feed.samples.count >= 3)
    }
}
