import Foundation
import NIOPosix
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing

/// A reconnect storm against a node with admission control: every client gets in, refusals are the
/// documented 503 with `Retry-After`, and the node admits no faster than its rate.
@Suite struct AdmissionEndToEndTests {
    @Test(.timeLimit(.minutes(3)))
    func aStormOfThreeThousandClientsIsAdmittedAtTheNodesRateAndEveryClientGetsIn() async throws {
        let rate = 200
        let clients = 3_000
        try await TestNode.with({
            $0.limits.maxConnectsPerSecond = rate
            $0.limits.maxConnectionsPerIP = 100_000
        }) { node in
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<clients {
                    group.addTask { try await Self.connectHonouringRetryAfter(port: node.port) }
                }
                return try await group.reduce(into: [[Int]]()) { $0.append($1) }
            }
            let elapsed = ContinuousClock.now - started
            #expect(statuses.allSatisfy { $0.last == 101 }, "every client got in")
            let refusals = statuses.flatMap { $0.dropLast() }
            #expect(refusals.allSatisfy { $0 == 503 }, "only 503s before the 101: \(Set(refusals))")
            #expect(refusals.count > 0, "the storm was over the rate")
            // Nothing was admitted before `started`; all were by now: at most a second's burst plus the rate.
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            #expect(Double(clients) <= Double(rate) * (seconds + 1) + 1, "\(clients) admitted in \(seconds) s at \(rate)/s")
            #expect(try await node.metric("switchboard_refused_connections_total", labels: #"reason="admission_rate""#) == Double(refusals.count))
        }
    }

    /// A node whose event loop is kept busy (a stand-in for a broadcast or a machine out of CPU) refuses new
    /// connections with 503, `Retry-After` and its own metric label, and admits them again once it keeps
    /// time. Order and outcome only: the stall lasts until a refusal is seen.
    @Test(.timeLimit(.minutes(3)))
    func aNodeWhoseLoopRunsLateRefusesNewcomersUntilItCatchesUp() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        try await TestNode.with(eventLoopGroup: group, { $0.limits.maxLoopLagMilliseconds = 100 }) { node in
            // 300 ms of work every 50 ms: the probe's timers run 300 ms late.
            let stall = group.next().scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(50)) { _ in usleep(300_000) }
            var refusal: (status: Int, headers: [String: String])?
            for _ in 0..<200 where refusal == nil {
                let response = try await Self.upgrade(port: node.port)
                if response.status == 503 { refusal = response } else { #expect(response.status == 101) }
            }
            stall.cancel()
            let refused = try #require(refusal, "a node whose loop runs 300 ms late kept admitting newcomers")
            let retryAfter = try #require(refused.headers["retry-after"].flatMap(Int.init), "\(refused.headers)")
            #expect((2...30).contains(retryAfter))
            // Caught up: newcomers get in again.
            var status = 503
            for _ in 0..<300 where status == 503 {
                try await Task.sleep(for: .milliseconds(100))
                status = try await Self.upgrade(port: node.port).status
            }
            #expect(status == 101)
            #expect(try await node.metric("switchboard_refused_connections_total", labels: #"reason="overloaded""#) ?? 0 >= 1)
            #expect(try await node.metric("switchboard_refused_connections_total", labels: #"reason="admission_rate""#) == 0)
        }
        try await group.shutdownGracefully()
    }

    private static func upgrade(port: Int) async throws -> (status: Int, headers: [String: String]) {
        let peer = try await RawWebSocketPeer.connect(port: port)
        let response = try await peer.upgradeResponse("/connection/websocket", within: .seconds(60))
        await peer.close()
        return response
    }

    /// Upgrades until accepted; after each 503 waits what `Retry-After` says, with jitter, as the SDKs do.
    /// Returns every status it got.
    static func connectHonouringRetryAfter(port: Int) async throws -> [Int] {
        var statuses: [Int] = []
        while statuses.count < 50 {
            let peer = try await RawWebSocketPeer.connect(port: port)
            let response = try await peer.upgradeResponse("/connection/websocket", within: .seconds(60))
            await peer.close()
            statuses.append(response.status)
            guard response.status == 503 else { return statuses }
            guard let retryAfter = response.headers["retry-after"].flatMap(Int.init), retryAfter >= 1 else {
                throw EndToEndFailure("a 503 without Retry-After: \(response.headers)")
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: retryAfter * 1000...retryAfter * 2000)))
        }
        return statuses
    }
}

@Suite struct UserConnectionLimitEndToEndTests {
    @Test func aUsersConnectionOverTheLimitIsClosedWith4503AndOthersAreNot() async throws {
        try await TestNode.with({ $0.limits.maxConnectionsPerUser = 2 }) { node in
            let first = try await node.connectedClient("alice")
            let second = try await node.connectedClient("alice")
            let third = try await node.client(token: try await node.token("alice"))
            guard case .disconnect(let disconnect) = try await third.nextPush() else {
                throw EndToEndFailure("expected a disconnect push, got \(third.received)")
            }
            #expect(disconnect.code == .connectionLimit)
            #expect(disconnect.reason.contains("alice"))
            #expect(try await node.metric("switchboard_refused_connections_total", labels: #"reason="user_limit""#) == 1)
            // Another user is not affected, and a place freed is a place to take.
            let bob = try await node.connectedClient("bob")
            await first.close()
            #expect(try await node.eventually { $0.connections == 2 })
            let again = try await node.connectedClient("alice")
            for client in [second, bob, again] { await client.close() }
        }
    }
}
