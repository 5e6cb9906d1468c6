import Metrics
import MetricsTestKit
import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

@Suite struct ServerMetricsTests {
    let backend = TestMetrics()
    let metrics: ServerMetrics
    let start = ContinuousClock.now

    init() {
        self.metrics = ServerMetrics(factory: self.backend, stats: ServerStats(startedAt: self.start))
    }

    func counter(_ label: String, _ dimensions: [(String, String)] = []) throws -> Int64 {
        try self.backend.expectCounter(label, dimensions).totalValue
    }

    func gauge(_ label: String, _ dimensions: [(String, String)] = []) throws -> Double? {
        try self.backend.expectMeter(label, dimensions).lastValue
    }

    /// Every metric exists from the start (a dashboard sees zeros, not missing series) and none is created
    /// on the hot path.
    @Test func everyMetricIsCreatedUpFront() throws {
        for label in ["switchboard_messages_in_total", "switchboard_messages_out_total", "switchboard_bytes_in_total",
                      "switchboard_bytes_out_total", "switchboard_slow_consumer_disconnects_total",
                      "switchboard_rate_limited_commands_total"] {
            #expect(try counter(label) == 0, "\(label)")
        }
        #expect(try counter("switchboard_publications_total", [("source", "client")]) == 0)
        #expect(try counter("switchboard_publications_total", [("source", "api")]) == 0)
        #expect(try counter("switchboard_disconnects_total", [("code", "4001")]) == 0)
        #expect(try counter("switchboard_disconnects_total", [("code", "1000")]) == 0)
        #expect(try counter("switchboard_disconnects_total", [("code", "other")]) == 0)
        #expect(try counter("switchboard_command_errors_total", [("code", "201")]) == 0)
        #expect(try counter("switchboard_refused_connections_total", [("reason", "address_limit")]) == 0)
        _ = try self.backend.expectMeter("switchboard_connections", [("transport", "websocket")])
        _ = try self.backend.expectMeter("switchboard_connections", [("transport", "sse")])
        _ = try self.backend.expectMeter("switchboard_subscriptions")
        _ = try self.backend.expectMeter("switchboard_channels")
        _ = try self.backend.expectTimer("switchboard_delivery_latency_seconds")
        _ = try self.backend.expectTimer("switchboard_command_duration_seconds", [("command", "publish")])

        let before = self.backend.counters.count + self.backend.meters.count + self.backend.timers.count
        exerciseEveryCall()
        #expect(self.backend.counters.count + self.backend.meters.count + self.backend.timers.count == before)
    }

    func exerciseEveryCall() {
        self.metrics.connectionOpened(.webSocket)
        self.metrics.connectionClosed(.webSocket, code: 3999)
        self.metrics.connectionRefused(.draining)
        self.metrics.subscribed()
        self.metrics.unsubscribed()
        self.metrics.channelOpened()
        self.metrics.channelClosed()
        self.metrics.messageReceived(bytes: 1)
        self.metrics.messagesSent(bytes: 1)
        self.metrics.publicationAccepted(.api)
        self.metrics.publicationDelivered(latency: .milliseconds(1))
        self.metrics.commandCompleted(ClientCommand(id: 1, .ping), duration: .microseconds(1))
        self.metrics.commandFailed(ErrorCode(999))
    }

    @Test func connectionsAreCountedPerTransportAndDisconnectsPerCode() throws {
        self.metrics.connectionOpened(.webSocket)
        self.metrics.connectionOpened(.webSocket)
        self.metrics.connectionOpened(.sse)
        #expect(try gauge("switchboard_connections", [("transport", "websocket")]) == 2)
        #expect(try gauge("switchboard_connections", [("transport", "sse")]) == 1)
        #expect(self.metrics.stats.snapshot().connections == 3)

        self.metrics.connectionClosed(.webSocket, code: .slowConsumer)
        self.metrics.connectionClosed(.sse, code: 1001)
        #expect(try gauge("switchboard_connections", [("transport", "websocket")]) == 1)
        #expect(try gauge("switchboard_connections", [("transport", "sse")]) == 0)
        #expect(try counter("switchboard_disconnects_total", [("code", "4001")]) == 1)
        #expect(try counter("switchboard_disconnects_total", [("code", "1001")]) == 1)
        #expect(try counter("switchboard_slow_consumer_disconnects_total") == 1)
        let snapshot = self.metrics.stats.snapshot()
        #expect(snapshot.connections == 1)
        #expect(snapshot.slowConsumerDisconnects == 1)
    }

    /// A close code the peer picked (3000–4999 are free for applications) lands in one `other` series.
    @Test func unknownCodesShareOneSeries() throws {
        for code: UInt16 in [3000, 3001, 4321, 4999] {
            self.metrics.connectionOpened(.webSocket)
            self.metrics.connectionClosed(.webSocket, code: code)
        }
        self.metrics.commandFailed(ErrorCode(150))
        self.metrics.commandFailed(ErrorCode(299))
        #expect(try counter("switchboard_disconnects_total", [("code", "other")]) == 4)
        #expect(try counter("switchboard_command_errors_total", [("code", "other")]) == 2)
        #expect(self.backend.counters(label: "switchboard_disconnects_total").count == ServerMetrics.knownDisconnectCodes.count + 1)
    }

    @Test func refusalsAreCountedByReason() throws {
        let limiter = ConnectionLimiter(maxConnections: 1, maxConnectionsPerAddress: 1)
        let lease = try limiter.acquire(ip: "192.0.2.1").get()
        for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.1"] {
            if case .failure(let refusal) = limiter.acquire(ip: ip) {
                self.metrics.connectionRefused(ServerMetrics.RefusalReason(refusal))
            }
        }
        self.metrics.connectionRefused(.forbiddenOrigin)
        #expect(try counter("switchboard_refused_connections_total", [("reason", "address_limit")]) == 2)
        #expect(try counter("switchboard_refused_connections_total", [("reason", "total_limit")]) == 1)
        #expect(try counter("switchboard_refused_connections_total", [("reason", "forbidden_origin")]) == 1)
        #expect(try counter("switchboard_refused_connections_total", [("reason", "unauthorized")]) == 0)
        lease.release()
    }

    @Test func subscriptionsAndChannelsGoUpAndDown() throws {
        for _ in 0..<5 { self.metrics.subscribed() }
        self.metrics.unsubscribed()
        for _ in 0..<3 { self.metrics.channelOpened() }
        self.metrics.channelClosed()
        #expect(try gauge("switchboard_subscriptions") == 4)
        #expect(try gauge("switchboard_channels") == 2)
        let snapshot = self.metrics.stats.snapshot()
        #expect(snapshot.subscriptions == 4)
        #expect(snapshot.channels == 2)
    }

    @Test func messagesBytesAndPublicationsAreCounted() throws {
        self.metrics.messageReceived(bytes: 100)
        self.metrics.messageReceived(bytes: 23)
        self.metrics.messagesSent(bytes: 50)
        self.metrics.messagesSent(count: 1000, bytes: 64_000)   // one broadcast
        self.metrics.publicationAccepted(.client)
        self.metrics.publicationAccepted(.api)
        self.metrics.publicationAccepted(.api)
        #expect(try counter("switchboard_messages_in_total") == 2)
        #expect(try counter("switchboard_bytes_in_total") == 123)
        #expect(try counter("switchboard_messages_out_total") == 1001)
        #expect(try counter("switchboard_bytes_out_total") == 64_050)
        #expect(try counter("switchboard_publications_total", [("source", "client")]) == 1)
        #expect(try counter("switchboard_publications_total", [("source", "api")]) == 2)
        let snapshot = self.metrics.stats.snapshot(now: self.start + .seconds(90))
        #expect(snapshot == ServerStats.Snapshot(messagesIn: 2, messagesOut: 1001, bytesIn: 123, bytesOut: 64_050,
                                                 publications: 3, uptime: 90))
    }

    /// A rate-limited command is a command error 201 and a rate-limited command; other errors only the first.
    @Test func commandErrorsAndRateLimiting() throws {
        self.metrics.commandFailed(.rateLimited)
        self.metrics.commandFailed(.rateLimited)
        self.metrics.commandFailed(.permissionDenied)
        #expect(try counter("switchboard_command_errors_total", [("code", "201")]) == 2)
        #expect(try counter("switchboard_command_errors_total", [("code", "103")]) == 1)
        #expect(try counter("switchboard_rate_limited_commands_total") == 2)
    }

    /// Each command type has its own timer, named as the command is on the wire.
    @Test func commandLatencyIsRecordedPerType() throws {
        let commands: [ClientCommand.Body] = [
            .connect(.init()), .subscribe(.init(channel: "c")), .unsubscribe(.init(channel: "c")),
            .publish(.init(channel: "c", data: "x")), .presence(.init(channel: "c")), .history(.init(channel: "c")),
            .refresh(.init(token: "t")), .ping,
        ]
        for (index, body) in commands.enumerated() {
            self.metrics.commandCompleted(ClientCommand(id: 1, body), duration: .microseconds(index + 1))
        }
        for (index, body) in commands.enumerated() {
            let type = ClientCommand(id: 1, body).type
            let timer = try self.backend.expectTimer("switchboard_command_duration_seconds", [("command", type)])
            #expect(timer.values == [Int64(index + 1) * 1000], "\(type)")
        }
        #expect(ServerMetrics.commandTypes.count == commands.count)
    }

    @Test func deliveryLatencyIsRecordedInNanoseconds() throws {
        self.metrics.publicationDelivered(latency: .microseconds(1500))
        self.metrics.publicationDelivered(latency: .seconds(2) + .nanoseconds(7))
        self.metrics.publicationDelivered(latency: .zero - .seconds(1))        // clocks compared wrongly: 0, not a crash
        #expect(try self.backend.expectTimer("switchboard_delivery_latency_seconds").values == [1_500_000, 2_000_000_007, 0])
    }

    /// Gauges and totals stay exact under concurrent updates from many tasks.
    @Test func concurrentUpdatesAreExact() async throws {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<10_000 {
                        self.metrics.connectionOpened(.webSocket)
                        self.metrics.messageReceived(bytes: 3)
                        self.metrics.connectionClosed(.webSocket, code: 1000)
                    }
                }
            }
        }
        let snapshot = self.metrics.stats.snapshot()
        #expect(snapshot.connections == 0)
        #expect(snapshot.messagesIn == 80_000)
        #expect(snapshot.bytesIn == 240_000)
        #expect(try counter("switchboard_messages_in_total") == 80_000)
        #expect(try counter("switchboard_disconnects_total", [("code", "1000")]) == 80_000)
        #expect(try gauge("switchboard_connections", [("transport", "websocket")]) == 0)
    }
}
