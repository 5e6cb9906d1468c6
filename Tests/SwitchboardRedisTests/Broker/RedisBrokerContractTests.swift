import SwitchboardBrokerContract
import SwitchboardServer
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// The Redis broker keeps every promise of the exported ``BrokerContract``, against a real redis-server:
/// the same checks the embedded broker and a third-party broker run.
@Suite(.enabled(if: RedisServerProcess.shouldRun, RedisServerProcess.missingMessage))
struct RedisBrokerContractTests {
    @Test(arguments: BrokerContract.checks)
    func theRedisBrokerKeepsTheContract(_ check: BrokerContract.Check) async throws {
        let server = try await RedisServerProcess.start()
        defer { server.stop() }
        try await check.run { RedisBrokerTests.broker([server]) }
    }
}
