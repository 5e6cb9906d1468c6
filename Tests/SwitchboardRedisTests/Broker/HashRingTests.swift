import Testing
@testable import SwitchboardRedis

@Suite struct HashRingTests {
    let servers = ["10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"]

    @Test func isDeterministicAndIndependentOfListOrder() {
        let ring = HashRing(servers: self.servers)
        let reversed = HashRing(servers: self.servers.reversed())
        for index in 0..<1000 {
            let channel = "chat:\(index)"
            #expect(self.servers[ring.server(for: channel)] == self.servers.reversed()[reversed.server(for: channel)])
        }
        // Pinned: a change of hash or ring layout would move every deployed channel.
        #expect(HashRing.hash("") == 0xf52a_15e9_a9b5_e89b)
        #expect(HashRing.hash("chat:lobby") == 0xa438_92c2_17aa_ff4b)
        #expect((0..<8).map { ring.server(for: "chat:\($0)") } == (0..<8).map { HashRing(servers: self.servers).server(for: "chat:\($0)") })
    }

    @Test func spreadsChannelsEvenlyEnough() {
        let ring = HashRing(servers: self.servers)
        var counts = [0, 0, 0]
        for index in 0..<30_000 { counts[ring.server(for: "user:\(index)")] += 1 }
        for count in counts { #expect(count > 7_500 && count < 12_500, "shares \(counts)") }
    }

    @Test func addingAServerMovesOnlyItsShareAndOnlyToIt() {
        let before = HashRing(servers: self.servers)
        let grown = self.servers + ["10.0.0.4:6379"]
        let after = HashRing(servers: grown)
        var moved = 0
        for index in 0..<20_000 {
            let channel = "room:\(index)"
            let old = self.servers[before.server(for: channel)]
            let new = grown[after.server(for: channel)]
            if old != new {
                moved += 1
                #expect(new == "10.0.0.4:6379")
            }
        }
        #expect(moved > 3_000 && moved < 7_000, "moved \(moved) of 20,000")
    }
}
