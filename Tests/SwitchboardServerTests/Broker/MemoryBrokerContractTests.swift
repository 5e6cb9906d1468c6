import SwitchboardBrokerContract
import SwitchboardServer
import Testing

/// The embedded broker keeps every promise of the exported ``BrokerContract``, the checks a third-party
/// broker runs too (the broker-specific tests beside this one cover what the contract cannot: a manual clock,
/// idle streams).
@Suite struct MemoryBrokerContractTests {
    @Test(arguments: BrokerContract.checks)
    func theMemoryBrokerKeepsTheContract(_ check: BrokerContract.Check) async throws {
        try await check.run { MemoryBroker() }
    }
}
