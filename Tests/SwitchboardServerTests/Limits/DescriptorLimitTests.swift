import Logging
import SwitchboardWebSocketNIO
import Testing
@testable import SwitchboardServer

/// A node never promises more connections than its descriptor limit can hold: past that it could not reach
/// Redis or refuse anyone properly.
@Suite struct DescriptorLimitTests {
    let logger = Logger(label: "test")

    @Test func maxConnectionsAboveTheDescriptorBudgetIsLowered() {
        let limit = RealtimeServer.connectionLimit(100_000, budget: DescriptorBudget(descriptorLimit: 20_000), logger: self.logger)
        #expect(limit == 19_200)
    }

    @Test func maxConnectionsWithinTheBudgetIsKept() {
        #expect(RealtimeServer.connectionLimit(5_000, budget: DescriptorBudget(descriptorLimit: 20_000), logger: self.logger) == 5_000)
        #expect(RealtimeServer.connectionLimit(100_000, budget: nil, logger: self.logger) == 100_000)
    }
}
