import Foundation
import SwitchboardServer
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// Connect tickets on Redis: two brokers stand for two nodes sharing it.
@Suite(.enabled(if: RedisServerProcess.shouldRun, RedisServerProcess.missingMessage))
struct RedisBrokerTicketTests {
    let grant: [UInt8] = Array(#"{"user":"alice","exp":1900000000}"#.utf8)

    @Test func ofManyConcurrentRedemptionsOnTwoNodesExactlyOneGetsTheGrant() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let first = try await RedisBrokerTests.started([server])
        let second = try await RedisBrokerTests.started([server])
        defer { Task { await first.shutdown(); await second.shutdown() } }

        try await first.storeTicket("ticket-1", grant: self.grant, ttl: 30)
        let outcomes = try await withThrowingTaskGroup(of: TicketRedemption.self) { group in
            for index in 0..<20 {
                let broker = index.isMultiple(of: 2) ? first : second
                group.addTask { try await broker.redeemTicket("ticket-1") }
            }
            return try await group.reduce(into: [TicketRedemption]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == .granted(self.grant) }.count == 1)
        #expect(outcomes.filter { $0 == .alreadyUsed }.count == 19)
        #expect(try await second.redeemTicket("never-stored") == .unknown)
        // An id is never stored twice.
        await #expect(throws: BrokerError.self) { try await second.storeTicket("ticket-1", grant: [1], ttl: 30) }
    }

    @Test func aTicketIsGoneWhenItsTTLRunsOut() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        let broker = try await RedisBrokerTests.started([server])
        defer { Task { await broker.shutdown() } }
        try await broker.storeTicket("short", grant: self.grant, ttl: 1)
        // Redis expires it by itself (-1 would be a key without expiry; -2 one already gone): nothing is
        // redeemed before that, so nothing consumes it early.
        #expect(try await server.command("TTL", "switchboard:ticket:short").int64 != -1)
        #expect(await eventually(within: .seconds(30)) {
            (try? await server.command("EXISTS", "switchboard:ticket:short").int64) == 0
        })
        #expect(try await broker.redeemTicket("short") == .unknown)
    }
}
