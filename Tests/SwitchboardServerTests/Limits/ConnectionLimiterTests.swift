import Testing
@testable import SwitchboardServer

@Suite struct ConnectionLimiterTests {
    func lease(_ result: Result<ConnectionLease, ConnectionLimitRefusal>, sourceLocation: SourceLocation = #_sourceLocation) -> ConnectionLease? {
        switch result {
        case .success(let lease): return lease
        case .failure(let refusal):
            Issue.record("refused: \(refusal)", sourceLocation: sourceLocation)
            return nil
        }
    }

    func refusal(_ result: Result<ConnectionLease, ConnectionLimitRefusal>, sourceLocation: SourceLocation = #_sourceLocation) -> ConnectionLimitRefusal? {
        switch result {
        case .success(let lease):
            Issue.record("admitted \(lease)", sourceLocation: sourceLocation)
            return nil
        case .failure(let refusal): return refusal
        }
    }

    /// One address over its limit gets 429 and is named; others still get in.
    @Test func perAddressLimitRefusesWith429() throws {
        let limiter = ConnectionLimiter(maxConnections: 100, maxConnectionsPerAddress: 2)
        let first = lease(limiter.acquire(ip: "203.0.113.7:50000"))
        let second = lease(limiter.acquire(ip: "203.0.113.7:50001"))
        let refused = try #require(refusal(limiter.acquire(ip: "203.0.113.7:50002")))
        #expect(refused.limit == .perAddress)
        #expect(refused.httpStatus == 429)
        #expect(refused.maximum == 2)
        #expect(refused.reason.contains("203.0.113.7"))
        let other = lease(limiter.acquire(ip: "198.51.100.1"))
        #expect(other != nil)
        #expect(limiter.openConnections == 3)
        #expect(limiter.openConnections(ip: "203.0.113.7") == 2)
        withExtendedLifetime((first, second, other)) {}
    }

    /// The node full gets 503, for an address that has no connection at all; refusal counts nothing.
    @Test func totalLimitRefusesWith503() throws {
        let limiter = ConnectionLimiter(maxConnections: 3, maxConnectionsPerAddress: 10)
        let leases = (1...3).compactMap { lease(limiter.acquire(ip: "192.0.2.\($0)")) }
        let refused = try #require(refusal(limiter.acquire(ip: "192.0.2.99")))
        #expect(refused.limit == .total)
        #expect(refused.httpStatus == 503)
        #expect(refused.maximum == 3)
        #expect(!refused.reason.contains("192.0.2"))
        #expect(limiter.openConnections == 3)
        #expect(limiter.trackedAddresses == 3)
        leases[0].release()
        #expect(lease(limiter.acquire(ip: "192.0.2.99")) != nil)
        withExtendedLifetime(leases) {}
    }

    /// Both limits reached: the peer is told it is at fault (429), not sent to another node (503).
    @Test func perAddressRefusalWinsWhenBothLimitsAreReached() throws {
        let limiter = ConnectionLimiter(maxConnections: 2, maxConnectionsPerAddress: 2)
        let leases = [lease(limiter.acquire(ip: "192.0.2.1")), lease(limiter.acquire(ip: "192.0.2.1"))]
        #expect(try #require(refusal(limiter.acquire(ip: "192.0.2.1"))).httpStatus == 429)
        #expect(try #require(refusal(limiter.acquire(ip: "192.0.2.2"))).httpStatus == 503)
        withExtendedLifetime(leases) {}
    }

    /// Releasing twice uncounts once; a dropped lease uncounts itself; at zero the address is forgotten.
    @Test func releaseIsExactlyOnceAndForgetsIdleAddresses() throws {
        let limiter = ConnectionLimiter(maxConnections: 10, maxConnectionsPerAddress: 10)
        let kept = try #require(lease(limiter.acquire(ip: "192.0.2.1")))
        let twice = try #require(lease(limiter.acquire(ip: "192.0.2.1")))
        twice.release()
        twice.release()
        #expect(twice.isReleased)
        #expect(limiter.openConnections == 1)
        #expect(limiter.openConnections(ip: "192.0.2.1") == 1)
        do {
            _ = try #require(lease(limiter.acquire(ip: "192.0.2.2")))   // dropped at the end of this scope
        }
        #expect(limiter.openConnections == 1)
        #expect(limiter.trackedAddresses == 1)
        kept.release()
        #expect(limiter.openConnections == 0)
        #expect(limiter.trackedAddresses == 0)
    }

    /// Thousands of attempts from many tasks at once: exactly the capacity is admitted, no address exceeds
    /// its limit, and after every lease is released (twice, from racing tasks) nothing is left counted.
    @Test func concurrentAcquireAndReleaseKeepExactCounts() async {
        let limiter = ConnectionLimiter(maxConnections: 150, maxConnectionsPerAddress: 20)
        let addresses = (0..<10).map { "10.0.0.\($0)" }
        let admitted = await withTaskGroup(of: ConnectionLease?.self) { group in
            for attempt in 0..<1000 {
                group.addTask {
                    try? limiter.acquire(ip: "\(addresses[attempt % addresses.count]):\(40000 + attempt)").get()
                }
            }
            var leases: [ConnectionLease] = []
            for await lease in group { if let lease { leases.append(lease) } }
            return leases
        }
        #expect(admitted.count == 150)
        #expect(limiter.openConnections == 150)
        for address in addresses {
            #expect(limiter.openConnections(ip: address) <= 20)
        }
        #expect(addresses.map { limiter.openConnections(ip: $0) }.reduce(0, +) == 150)

        await withTaskGroup(of: Void.self) { group in
            for lease in admitted {
                group.addTask { lease.release() }
                group.addTask { lease.release() }
            }
        }
        #expect(limiter.openConnections == 0)
        #expect(limiter.trackedAddresses == 0)
    }

    /// Churn: many short connections from ever-new addresses leave no entry behind.
    @Test func churnFromManyAddressesLeavesNoEntries() {
        let limiter = ConnectionLimiter(maxConnections: 5, maxConnectionsPerAddress: 1)
        for index in 0..<10_000 {
            let lease = try? limiter.acquire(ip: "10.\(index >> 16 & 255).\(index >> 8 & 255).\(index & 255)").get()
            #expect(lease != nil)
            if index % 2 == 0 { lease?.release() }   // the others are released by being dropped
        }
        #expect(limiter.openConnections == 0)
        #expect(limiter.trackedAddresses == 0)
    }

    @Test func configurationLimitsAreUsed() {
        let limiter = ConnectionLimiter(LimitsConfiguration(maxConnections: 7, maxConnectionsPerIP: 3))
        #expect(limiter.maxConnections == 7)
        #expect(limiter.maxConnectionsPerAddress == 3)
    }

    /// IPv6 peers are counted per /64 by default: a peer cannot dodge its limit by rotating addresses.
    @Test func ipv6AddressesInOnePrefixShareALimit() throws {
        let limiter = ConnectionLimiter(maxConnections: 100, maxConnectionsPerAddress: 2)
        let leases = [lease(limiter.acquire(ip: "[2001:db8:1:2::1]:443")), lease(limiter.acquire(ip: "2001:db8:1:2:aaaa::9"))]
        let refused = try #require(refusal(limiter.acquire(ip: "2001:db8:1:2:ffff:ffff:ffff:ffff")))
        #expect(refused.reason.contains("2001:db8:1:2::/64"))
        #expect(lease(limiter.acquire(ip: "2001:db8:1:3::1")) != nil)
        #expect(leases[0]?.address == "2001:db8:1:2::/64")
        withExtendedLifetime(leases) {}
    }

    @Test func ipv6PrefixOf128CountsEveryAddress() {
        let limiter = ConnectionLimiter(maxConnections: 100, maxConnectionsPerAddress: 1, ipv6PrefixLength: 128)
        let leases = [lease(limiter.acquire(ip: "2001:db8::1")), lease(limiter.acquire(ip: "2001:db8::2"))]
        #expect(leases.allSatisfy { $0 != nil })
        #expect(leases[0]?.address == "2001:db8::1")
        withExtendedLifetime(leases) {}
    }
}

@Suite struct ClientAddressTests {
    @Test(arguments: [
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:8080", "203.0.113.7"),
        ("  203.0.113.7 ", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),            // what a dual-stack listener reports for IPv4
        ("[::ffff:203.0.113.7]:443", "203.0.113.7"),
        ("::1", "::1"),
        ("[::1]:8080", "::1"),
        ("[::1]", "::1"),
        ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),          // RFC 5952: lowercase, longest zero run compressed
        ("2001:0db8::0001", "2001:db8::1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]:80", "fe80::1"),
        ("unknown", "unknown"),
        ("UNIX:/tmp/socket", "unix:/tmp/socket"),         // not an address: kept whole, lowercased
    ])
    func normalizesEverySpelling(input: String, key: String) {
        #expect(ClientAddress(input, ipv6PrefixLength: 128).key == key)
    }

    @Test(arguments: [
        ("2001:db8:1:2:3:4:5:6", 64, "2001:db8:1:2::/64"),
        ("[2001:db8:1:2:3:4:5:6]:99", 48, "2001:db8:1::/48"),
        ("2001:db8:1:2:3:4:5:6", 60, "2001:db8:1::/60"),   // 60 bits keep the 0 of the fourth group's top nibble
        ("2001:db8:1:f2:3:4:5:6", 60, "2001:db8:1:f0::/60"),
        ("2001:db8::1", 0, "::/0"),
        ("::1", 64, "::/64"),
        ("203.0.113.7", 64, "203.0.113.7"),                // IPv4 is never grouped
    ])
    func groupsIPv6ByPrefix(input: String, prefix: Int, key: String) {
        #expect(ClientAddress(input, ipv6PrefixLength: prefix).key == key)
    }
}
