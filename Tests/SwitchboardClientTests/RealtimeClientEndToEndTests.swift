import Foundation
import SwitchboardProtocol
import SwitchboardServer
import SwitchboardNodeTestSupport
import SwitchboardTestSupport
import Testing
@testable import SwitchboardClient

struct Note: Codable, Sendable, Hashable {
    var text: String
    var n: Int
}

/// End to end against a real ``RealtimeServer`` on loopback; serialized so the nodes do not compete.
///
/// Outcomes and order only. The client's heartbeat and request timeouts here only guard against hangs: on a
/// loaded machine a reply can take seconds, which must not count as a dead connection and a reconnect.
@Suite(.serialized) struct RealtimeClientEndToEndTests {
    /// Quick retries for tests: the first window is 50 ms, never more than 1 s.
    static let fastReconnect = ReconnectPolicy(baseDelay: .milliseconds(50), maxDelay: .seconds(1), maxAttempts: 100)

    static func client(_ node: RealtimeTestNode, url: String? = nil, user: String = "alice", ttl: Int = 3600, sendQueueLimit: Int = 100,
                       calls: CallCounter = CallCounter(), encoding: WireEncoding = .json, compression: Bool = false) -> RealtimeClient {
        var configuration = RealtimeClientConfiguration(
            tokenProvider: {
                calls.increment()
                return try await node.token(user, ttl: ttl)
            },
            reconnect: Self.fastReconnect, sendQueueLimit: sendQueueLimit,
            heartbeatInterval: .seconds(2), heartbeatTimeout: TestPatience.default, requestTimeout: TestPatience.default)
        configuration.encoding = encoding
        configuration.compression = compression
        return RealtimeClient(url: url ?? node.url, configuration: configuration)
    }

    static func isReconnecting(_ state: ConnectionState) -> (attempt: Int, delay: Duration)? {
        if case .reconnecting(let attempt, let delay) = state { (attempt, delay) } else { nil }
    }

    static func isConnected(_ state: ConnectionState) -> String? {
        if case .connected(let clientID, _) = state { clientID } else { nil }
    }

    // 1.
    @Test(arguments: WireEncoding.allCases) func connectsSubscribesAndReceivesTypedValues(encoding: WireEncoding) async throws {
        try await RealtimeTestNode.with { node in
            let calls = CallCounter()
            let client = Self.client(node, calls: calls, encoding: encoding)
            try await client.connect()
            guard case .connected(_, let user) = client.state else { throw ClientTestFailure("state \(client.state)") }
            #expect(user == "alice")
            #expect(await client.engine.webSocketEncoding == encoding)
            #expect(calls.value == 1)

            let collector = Collector(try await client.subscribe("feed:typed", as: Note.self))
            let position = try await client.publish(Note(text: "one", n: 1), to: "feed:typed")
            try await node.publish(["text": "two", "n": 2], to: "feed:typed")
            let received = try await collector.first(2)
            #expect(received.map(\.value) == [Note(text: "one", n: 1), Note(text: "two", n: 2)])
            #expect(received[0].position == position)
            #expect(received[0].publisher?.user == "alice")
            #expect(received[1].publisher == nil)
            #expect(received.map(\.offset) == [1, 2])

            let history = try await client.history(of: "feed:typed", as: Note.self)
            #expect(history.map(\.value.n) == [1, 2])
            await #expect(throws: RealtimeClientError.alreadySubscribed) { try await client.subscribe("feed:typed", as: Note.self) }
            let refused = await #expect(throws: RealtimeClientError.serverError) { try await client.subscribe("nope:x", as: Note.self) }
            #expect(refused?.protocolCode == .unknownChannel)
            await client.disconnect()
            guard case .disconnected = client.state else { throw ClientTestFailure("state \(client.state)") }
        }
    }

    /// `compression: true` against a node with compression on: deflate is agreed, and compressed messages
    /// (a publication, a history reply) arrive whole; below the node's threshold they go plain.
    @Test(arguments: WireEncoding.allCases) func compressionIsAgreedAndCompressedMessagesArriveWhole(encoding: WireEncoding) async throws {
        try await RealtimeTestNode.with({ $0.compression = CompressionConfiguration(enabled: true, threshold: 64) }) { node in
            let client = Self.client(node, encoding: encoding, compression: true)
            try await client.connect()
            let agreed = try #require(await client.engine.webSocketDeflate)
            #expect(agreed.serverNoContextTakeover && agreed.clientNoContextTakeover)
            #expect(try await node.metric("switchboard_compressed_connections") == 1)
            let long = Note(text: String(repeating: "compressible ", count: 100), n: 1)
            let collector = Collector(try await client.subscribe("feed:deflate", as: Note.self))
            _ = try await client.publish(long, to: "feed:deflate")
            _ = try await client.publish(Note(text: "short", n: 2), to: "feed:deflate")
            #expect(try await collector.first(2).map(\.value) == [long, Note(text: "short", n: 2)])
            #expect(try await client.history(of: "feed:deflate", as: Note.self).map(\.value) == [long, Note(text: "short", n: 2)])
            await client.disconnect()
        }
    }

    // 2.
    @Test(arguments: WireEncoding.allCases) func survivesAServerRestartWithoutGapsOrDuplicates(encoding: WireEncoding) async throws {
        try await RealtimeTestNode.with { node in
            let client = Self.client(node, encoding: encoding)
            let states = StateRecorder(client)
            try await client.connect()
            let collector = Collector(try await client.subscribe("feed:restart", as: Int.self))
            for n in 1...10 { try await node.publish(.integer(Int64(n)), to: "feed:restart") }
            _ = try await collector.first(10)

            await node.shutdown()
            for n in 11...20 { try await node.publish(.integer(Int64(n)), to: "feed:restart") }
            try await node.restart()
            for n in 21...30 { try await node.publish(.integer(Int64(n)), to: "feed:restart") }

            let received = try await collector.first(30)
            #expect(received.map(\.value) == Array(1...30))
            #expect(received.map(\.offset) == Array(1...30))
            #expect(Set(received.map(\.epoch)).count == 1)
            // Nothing more (no duplicates) arrives: one more publication comes next, and alone.
            try await node.publish(31, to: "feed:restart")
            _ = try await collector.first(31)
            #expect(collector.all.map(\.value) == Array(1...31), "nothing more (no duplicates) arrives")
            // 11–20 at least (21–30 too when they were published before the resubscribe).
            let recovered = collector.allEvents.compactMap { event -> Int? in
                if case .recovered(let count) = event { count } else { nil }
            }
            #expect(recovered.count == 1 && recovered[0] >= 10, "events: \(collector.allEvents)")
            #expect(!collector.allEvents.contains { if case .gap = $0 { true } else { false } })

            let reconnects = states.all.compactMap(Self.isReconnecting)
            #expect(!reconnects.isEmpty)
            for (_, delay) in reconnects {
                #expect(delay >= .zero && delay <= Self.fastReconnect.maxDelay)
            }
            #expect(states.connectedCount() == 2)
            await client.disconnect()
        }
    }

    // 2b.
    @Test func aGapThatHistoryCannotFillIsReported() async throws {
        try await RealtimeTestNode.with { node in
            let short = HistoryRetention(size: 5, seconds: 7200)
            let client = Self.client(node)
            try await client.connect()
            let collector = Collector(try await client.subscribe("short:gap", as: Int.self))
            for n in 1...3 { try await node.publish(.integer(Int64(n)), to: "short:gap", retention: short) }
            _ = try await collector.first(3)

            await node.shutdown()
            // Eight more while down: history keeps only 5, so 4–6 are lost to this client.
            for n in 4...11 { try await node.publish(.integer(Int64(n)), to: "short:gap", retention: short) }
            try await node.restart()
            let gap = try await poll("a gap event") {
                collector.allEvents.lazy.compactMap { event -> (StreamPosition?, StreamPosition)? in
                    if case .gap(let last, let resumed) = event { (last, resumed) } else { nil }
                }.first
            }
            #expect(gap.0?.offset == 3)
            #expect(gap.1.offset == 11)
            try await node.publish(12, to: "short:gap", retention: short)
            let received = try await collector.first(4)
            #expect(received.map(\.value) == [1, 2, 3, 12], "live publications continue after the gap")
            await client.disconnect()
        }
    }

    // 3a.
    @Test func aForcedDisconnectStopsReconnecting() async throws {
        try await RealtimeTestNode.with { node in
            let client = Self.client(node)
            let states = StateRecorder(client)
            try await client.connect()
            try await node.forceDisconnect(user: "alice", reason: "banned")
            let reason = try await states.wait(for: "disconnected") { state -> DisconnectReason? in
                if case .disconnected(let reason) = state, reason.code != nil { reason } else { nil }
            }
            #expect(reason.code == .forced)
            #expect(reason.message == "banned")
            try await Task.sleep(for: .milliseconds(300))
            #expect(states.all.compactMap(Self.isReconnecting).isEmpty)
            await #expect(throws: RealtimeClientError.notConnected) { try await client.presence(of: "feed:x") }
            await #expect(throws: RealtimeClientError.disconnected) { try await client.publish(1, to: "feed:x") }
        }
    }

    /// Cancelling a task that waits in `connect()` ends its wait at once; the client keeps trying (and
    /// connects when the node is there) until `disconnect()`.
    @Test func cancellingAWaitingConnectEndsTheWaitNotTheClient() async throws {
        try await RealtimeTestNode.with { node in
            // Nothing listens on the node's port while it is shut down.
            await node.shutdown()
            let client = Self.client(node)
            let states = StateRecorder(client)
            let waiting = Task { try await client.connect() }
            _ = try await states.wait(for: "a reconnect attempt", Self.isReconnecting)
            waiting.cancel()
            // The node is down until after this: only the cancellation can end the wait.
            await #expect(throws: CancellationError.self) {
                try await withTimeout(TestPatience.default, "the cancelled connect()") { try await waiting.value }
            }
            try await node.restart()
            _ = try await states.wait(for: "connected after the node came back", Self.isConnected)
            await client.disconnect()
        }
    }

    // 3b.
    @Test func aNodeShutdownReconnectsAfterTheHint() async throws {
        try await RealtimeTestNode.with { node in
            let client = Self.client(node)
            let states = StateRecorder(client)
            try await client.connect()
            let firstID = try await states.wait(for: "connected", Self.isConnected)
            await node.shutdown()
            let (attempt, delay) = try await states.wait(for: "reconnecting", Self.isReconnecting)
            #expect(attempt == 1)
            #expect(delay <= .seconds(1))
            try await node.restart()
            let secondID = try await states.wait(for: "reconnected") { state -> String? in
                Self.isConnected(state).flatMap { $0 == firstID ? nil : $0 }
            }
            #expect(!secondID.isEmpty)
            await client.disconnect()
        }
    }

    // 4. Tokens of 2 s. The node's grace is one no loaded machine misses (a refresh that arrives late is
    // still a refresh); whether the node accepted each refresh is read from its metrics, not inferred from
    // the connection surviving a short grace.
    @Test func refreshesAnExpiringTokenAndKeepsTheSubscription() async throws {
        try await RealtimeTestNode.with({ $0.limits.tokenRefreshGrace = 600 }) { node in
            let calls = CallCounter()
            let client = Self.client(node, ttl: 2, calls: calls)
            let states = StateRecorder(client)
            let connecting = ContinuousClock.now
            try await client.connect()
            let collector = Collector(try await client.subscribe("feed:refresh", as: Int.self))
            try await node.publish(1, to: "feed:refresh")
            _ = try await collector.first(1)
            // The client asks for new tokens and the node takes them: two refreshes, no command refused.
            #expect(try await eventually { try await node.metric("switchboard_command_duration_seconds_count", labels: #"command="refresh""#) >= 2 })
            #expect(try await node.metric("switchboard_command_errors_total") == 0)
            // Past the first token's expiry (not before: a lower bound), on the same connection.
            try await Task.sleep(until: connecting + .milliseconds(2500), clock: .continuous)
            try await node.publish(2, to: "feed:refresh")
            let received = try await collector.first(2)
            #expect(received.map(\.value) == [1, 2])
            #expect(calls.value >= 3, "the provider was asked again")
            #expect(states.connectedCount() == 1, "never reconnected: \(states.all)")
            await client.disconnect()
        }
    }

    // 5.
    @Test func publishesWhileDisconnectedAreQueuedFlushedInOrderAndBounded() async throws {
        try await RealtimeTestNode.with { node in
            let client = Self.client(node, sendQueueLimit: 3)
            let states = StateRecorder(client)
            try await client.connect()
            let collector = Collector(try await client.subscribe("feed:queue", as: Note.self))
            await node.shutdown()
            try await states.wait(for: "reconnecting", Self.isReconnecting)

            var tasks: [Task<StreamPosition, any Error>] = []
            for n in 1...3 {
                tasks.append(Task { try await client.publish(Note(text: "queued", n: n), to: "feed:queue") })
                // One at a time, so the queue's order is the order of the calls.
                _ = try await poll("publication \(n) queued") { await client.engine.queuedPublishCount == n ? true : nil }
            }
            await #expect(throws: RealtimeClientError.sendQueueFull) {
                try await client.publish(Note(text: "overflow", n: 4), to: "feed:queue")
            }

            try await node.restart()
            var positions: [StreamPosition] = []
            for task in tasks { positions.append(try await task.value) }
            #expect(positions.map(\.offset) == [1, 2, 3])
            let received = try await collector.first(3)
            #expect(received.map(\.value.n) == [1, 2, 3])
            await client.disconnect()
        }
    }

    // Issue 13: "a client whose connection drops after sending a publish and before its reply sees its message
    // exactly once after the reconnect". The node published it; the client, having no answer, sends it again
    // with the same idempotency key on the next connection, and the node answers with the first position.
    @Test func aPublishWhoseReplyIsLostIsPublishedExactlyOnce() async throws {
        try await RealtimeTestNode.with { node in
            let proxy = try await LoopbackTCPProxy.start(forwardingTo: node.port)
            let client = Self.client(node, url: "ws://127.0.0.1:\(proxy.port)/connection/websocket")
            try await client.connect()
            let collector = Collector(try await client.subscribe("feed:once", as: Int.self))
            proxy.resetWhenTheNodeSends(#""publish":{"#)
            let position = try await client.publish(1, to: "feed:once")
            #expect(position.offset == 1)
            #expect(proxy.connectionCount == 2, "the answer was lost with the first connection")
            try await node.publish(.integer(2), to: "feed:once")
            let received = try await collector.first(2)
            #expect(received.map(\.value) == [1, 2])
            #expect(received.map(\.offset) == [1, 2])
            await client.disconnect()
        }
    }

    // 6. Issue 4: "drop the TCP connection in the middle of a stream of publications; the client reconnects
    // with jittered backoff and the application sees every publication exactly once, in order".
    @Test func tcpResetsMidStreamLoseNothingAndDuplicateNothing() async throws {
        try await RealtimeTestNode.with { node in
            let proxy = try await LoopbackTCPProxy.start(forwardingTo: node.port)
            let client = Self.client(node, url: "ws://127.0.0.1:\(proxy.port)/connection/websocket")
            let states = StateRecorder(client)
            try await client.connect()
            let collector = Collector(try await client.subscribe("feed:reset", as: Int.self))
            let total = 300
            // Publications keep coming, straight into the broker, whatever happens to the client's connection.
            let publisher = Task {
                for n in 1...total {
                    try await node.publish(.integer(Int64(n)), to: "feed:reset")
                    try await Task.sleep(for: .milliseconds(3))
                }
            }

            // Twice, at a third and at two thirds of the stream: an abort (RST), no close frame either way.
            for (cut, mark) in [(1, total / 3), (2, 2 * total / 3)] {
                _ = try await collector.first(mark)
                let seen = states.all.count
                await proxy.resetAll()
                let (attempt, delay) = try await states.wait(for: "reconnecting after reset \(cut)", after: seen, Self.isReconnecting)
                #expect(attempt == 1)
                // Full jitter: the first retry waits somewhere in [0, baseDelay].
                #expect(delay >= .zero && delay <= Self.fastReconnect.ceiling(forAttempt: 1))
                try await states.wait(for: "connected after reset \(cut)", after: seen, Self.isConnected)
            }
            try await publisher.value

            let received = try await collector.first(total)
            #expect(received.map(\.value) == Array(1...total))
            #expect(received.map(\.offset) == Array(1...UInt64(total)))
            // Nothing more (no duplicates) arrives: one more publication comes next, and alone.
            try await node.publish(.integer(Int64(total + 1)), to: "feed:reset")
            _ = try await collector.first(total + 1)
            #expect(collector.all.map(\.value) == Array(1...(total + 1)), "nothing more (no duplicates) arrives")
            #expect(!collector.allEvents.contains { if case .gap = $0 { true } else { false } }, "events: \(collector.allEvents)")
            let recoveries = collector.allEvents.filter { if case .recovered = $0 { true } else { false } }
            #expect(recoveries.count == 2, "one recovering resubscribe per reset: \(collector.allEvents)")
            let recovered = recoveries.reduce(0) { sum, event in if case .recovered(let count) = event { sum + count } else { sum } }
            #expect(recovered > 0, "publications in flight at the resets came back through recovery")
            #expect(states.connectedCount() == 3)
            #expect(proxy.connectionCount == 3)
            await client.disconnect()
            await proxy.stop()
        }
    }
}
