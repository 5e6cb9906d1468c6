import Testing
@testable import SwitchboardServer

/// The embedded broker's tickets: each redeemed once, refused after it expires, and memory bounded.
@Suite struct TicketTableTests {
    let grant: [UInt8] = Array(#"{"user":"alice"}"#.utf8)

    @Test func aTicketIsGrantedOnceThenReadsAlreadyUsedUntilItExpires() throws {
        var table = TicketTable()
        try table.store("t1", grant: self.grant, expiresAt: 10_000, now: 0)
        #expect(table.redeem("t1", now: 1) == .granted(self.grant))
        #expect(table.redeem("t1", now: 2) == .alreadyUsed)
        #expect(table.redeem("t1", now: 10_000) == .unknown)
        #expect(table.redeem("never", now: 2) == .unknown)
    }

    @Test func anUnusedTicketIsUnknownOnceItExpires() throws {
        var table = TicketTable()
        try table.store("t1", grant: self.grant, expiresAt: 5_000, now: 0)
        #expect(table.redeem("t1", now: 5_000) == .unknown)
    }

    @Test func storingForgetsExpiredTicketsSoTheTableStaysSmall() throws {
        var table = TicketTable(capacity: 3)
        for index in 0..<3 {
            try table.store("t\(index)", grant: self.grant, expiresAt: 1_000, now: 0)
        }
        #expect(throws: TicketTable.StoreFailure.full) {
            try table.store("t3", grant: self.grant, expiresAt: 1_000, now: 10)
        }
        // Once they expired, they make room.
        try table.store("t3", grant: self.grant, expiresAt: 2_000, now: 1_000)
        #expect(table.count == 1)
        #expect(table.redeem("t3", now: 1_001) == .granted(self.grant))
    }

    @Test func anIdIsNeverStoredTwice() throws {
        var table = TicketTable()
        try table.store("t1", grant: self.grant, expiresAt: 1_000, now: 0)
        #expect(throws: TicketTable.StoreFailure.duplicate) {
            try table.store("t1", grant: [1], expiresAt: 1_000, now: 1)
        }
        #expect(table.redeem("t1", now: 2) == .granted(self.grant))
    }

    @Test func aLongLivedTicketAtTheFrontDoesNotKeepExpiredOnesRedeemable() throws {
        var table = TicketTable()
        try table.store("long", grant: self.grant, expiresAt: 60_000, now: 0)
        try table.store("short", grant: self.grant, expiresAt: 1_000, now: 0)
        try table.store("later", grant: self.grant, expiresAt: 61_000, now: 2_000)
        #expect(table.redeem("short", now: 2_000) == .unknown)
        #expect(table.redeem("long", now: 2_000) == .granted(self.grant))
    }
}
