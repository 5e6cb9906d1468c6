import Foundation
import Logging
import SwitchboardClient
import Testing

/// The scale-out scenarios, written once and run both with clients straight on the nodes and through nginx:
/// only where the clients connect and how a node is crashed differ.
enum Scenarios {
    /// Clients reconnect quickly: the tests wait for them.
    static func client(_ url: String, cluster: ScaleOutCluster, user: String) -> RealtimeClient {
        var logger = Logger(label: "scaleout.\(user)")
        logger.logLevel = .warning
        let configuration = RealtimeClientConfiguration(
            tokenProvider: { try await cluster.token(user) },
            reconnect: ReconnectPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(1)),
            requestTimeout: .seconds(10), clientName: user)
        return RealtimeClient(url: url, configuration: configuration, logger: logger)
    }

    static func channel(_ name: String) -> String { "feed:\(name)-\(UUID().uuidString.prefix(8))" }

    /// (a) A client publishes `count` messages on one node; every subscriber, each on a node of its own
    /// address, receives all of them exactly once and in order.
    /// `connected` runs once everyone is connected, before the first publication.
    static func fanOut(cluster: ScaleOutCluster, publisherURL: String, subscriberURLs: [String], count: Int = 200,
                       connected: () async throws -> Void = {}) async throws {
        let channel = Self.channel("fanout")
        var subscribers: [(RealtimeClient, NumberedRecorder)] = []
        for (index, url) in subscriberURLs.enumerated() {
            let client = Self.client(url, cluster: cluster, user: "subscriber-\(index)")
            try await client.connect()
            subscribers.append((client, NumberedRecorder(try await client.subscribe(channel, as: Numbered.self))))
        }
        let publisher = Self.client(publisherURL, cluster: cluster, user: "publisher")
        try await publisher.connect()
        try await connected()
        for number in 1...count {
            try await publisher.publish(Numbered(n: number), to: channel)
        }
        for (index, (client, recorder)) in subscribers.enumerated() {
            let complete = await recorder.waitForAll(1...count, within: .seconds(30))
            #expect(complete, "subscriber \(index) (\(subscriberURLs[index])): \(recorder.describe())\n\(cluster.logs())")
            let problems = recorder.problems(acknowledged: Array(1...count))
            #expect(problems.isEmpty, "subscriber \(index): \(problems)")
            #expect(recorder.all.count == count, "subscriber \(index) got extra publications: \(recorder.describe())")
            await client.disconnect()
        }
        await publisher.disconnect()
    }

    /// (b) A subscriber's node is killed mid-stream while a back-end keeps publishing through another node;
    /// the subscriber reconnects through the same address (`crash` kills its node and makes sure the
    /// address leads elsewhere) and ends up with every acknowledged publication exactly once, in order.
    static func failover(cluster: ScaleOutCluster, subscriberURL: String, publisherPort: Int, count: Int = 300,
                         crash: () async throws -> Void) async throws {
        let channel = Self.channel("failover")
        let client = Self.client(subscriberURL, cluster: cluster, user: "mover")
        let states = StateRecorder(client)
        try await client.connect()
        let recorder = NumberedRecorder(try await client.subscribe(channel, as: Numbered.self))
        let publisher = BackendPublisher(port: publisherPort, channel: channel)
        let publishing = Task { await publisher.run(count: count, pause: .milliseconds(10)) }

        // Crash with the stream in full flow: a third published and some of it delivered.
        while publisher.current.attempted < count / 3 || recorder.all.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        try await crash()
        await publishing.value

        let outcome = publisher.current
        let complete = await recorder.waitForAll(outcome.acknowledged, within: .seconds(30))
        #expect(complete, "publisher: \(outcome.summary); subscriber: \(recorder.describe()); states \(states.all)\n\(cluster.logs())")
        let problems = recorder.problems(acknowledged: outcome.acknowledged)
        #expect(problems.isEmpty, "\(problems); publisher: \(outcome.summary); subscriber: \(recorder.describe())")
        #expect(states.connections >= 2, "the client should have reconnected after its node died: \(states.all)")
        #expect(outcome.acknowledged.count > count / 2, "most publications should succeed: \(outcome.summary)")
        await client.disconnect()
    }

    /// (c) Redis is crashed (SIGKILL) and restarted on the same port and data while a back-end publishes
    /// through one node and a client on another node subscribes. Every publication acknowledged with 200
    /// arrives exactly once, in order; those refused while Redis was down may be absent. The nodes stay up
    /// and keep their WebSocket clients.
    ///
    /// The publisher must still be publishing once the node's Redis client is back: its reconnect backoff
    /// waits up to 1.6 s after a 2 s outage, plus Redis's own start. 800 publications at 10 ms leave several
    /// seconds after the restart (400 left as little as one, and a fast publisher finished first).
    static func redisRestart(cluster: ScaleOutCluster, subscriberURL: String, publisherPort: Int, count: Int = 800,
                             outage: Duration = .seconds(2)) async throws {
        let channel = Self.channel("redis-restart")
        let client = Self.client(subscriberURL, cluster: cluster, user: "steady")
        let states = StateRecorder(client)
        try await client.connect()
        let recorder = NumberedRecorder(try await client.subscribe(channel, as: Numbered.self))
        let publisher = BackendPublisher(port: publisherPort, channel: channel)
        let publishing = Task { await publisher.run(count: count, pause: .milliseconds(10)) }

        while publisher.current.attempted < count / 4 || recorder.all.isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        cluster.redis.kill()
        try await Task.sleep(for: outage)
        try await cluster.redis.launch()
        await publishing.value

        let outcome = publisher.current
        let complete = await recorder.waitForAll(outcome.acknowledged, within: .seconds(30))
        #expect(complete, "publisher: \(outcome.summary); subscriber: \(recorder.describe()); states \(states.all)\n\(cluster.logs())")
        let problems = recorder.problems(acknowledged: outcome.acknowledged)
        #expect(problems.isEmpty, "\(problems); publisher: \(outcome.summary); subscriber: \(recorder.describe())")
        #expect(!outcome.refused.isEmpty || !outcome.failed.isEmpty,
                "the outage should have refused some publications (else it tested nothing): \(outcome.summary)")
        #expect(outcome.acknowledged.last == count, "publishing should work again after the restart: \(outcome.summary)")
        for node in cluster.nodes {
            #expect(node.isRunning, "\(node.name) died during the Redis outage: \(node.logTail())")
        }
        #expect(states.losses == 0, "the client should have kept its connection through the outage: \(states.all)")
        await client.disconnect()
    }
}
