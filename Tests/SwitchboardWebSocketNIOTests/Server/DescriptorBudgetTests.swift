import Testing
@testable import SwitchboardWebSocketNIO

@Suite struct DescriptorBudgetTests {
    @Test func aLargeLimitKeepsOnePercentInReserve() {
        let budget = DescriptorBudget(descriptorLimit: 20_000)
        #expect(budget.reserve == 200)
        #expect(budget.socketLimit == 19_800)
        #expect(budget.connectionLimit == 19_200)
    }

    @Test func aSmallLimitStillKeepsSixtyFour() {
        let budget = DescriptorBudget(descriptorLimit: 1_024)
        #expect(budget.reserve == 64)
        #expect(budget.socketLimit == 960)
        #expect(budget.connectionLimit == 768)
    }

    @Test func aTinyLimitStillServesOne() {
        let budget = DescriptorBudget(descriptorLimit: 10)
        #expect(budget.socketLimit == 1)
        #expect(budget.connectionLimit == 1)
    }

    @Test func serversDefaultToThisProcessesBudget() {
        if let budget = DescriptorBudget.current {
            #expect(budget.socketLimit < budget.descriptorLimit)
            #expect(WebSocketServerConfiguration().maximumOpenSockets == budget.socketLimit)
        } else {
            // No finite limit to keep a reserve under.
            #expect(WebSocketServerConfiguration().maximumOpenSockets == .max)
        }
    }
}
