import Testing
@testable import SwitchboardServer

struct ClientAddressResolverTests {
    @Test func theHeaderIsIgnoredWithoutTrustedProxies() throws {
        let resolver = try ClientAddressResolver(trustedProxies: [])
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["203.0.113.7"]) == "127.0.0.1")
        #expect(resolver.clientAddress(peer: nil, forwardedFor: []) == "unknown")
    }

    @Test func aTrustedProxyNamesTheClient() throws {
        let resolver = try ClientAddressResolver(trustedProxies: ["127.0.0.1", "10.0.0.0/8", "fd00::/8"])
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["203.0.113.7"]) == "203.0.113.7")
        // Each proxy appends its peer: the client is the rightmost address that is not a proxy.
        #expect(resolver.clientAddress(peer: "10.1.2.3", forwardedFor: ["198.51.100.1, 203.0.113.7, 10.9.9.9"]) == "203.0.113.7")
        // Several headers are one list, in order.
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["198.51.100.1", "203.0.113.9"]) == "203.0.113.9")
        #expect(resolver.clientAddress(peer: "fd12::1", forwardedFor: ["2001:db8::42"]) == "2001:db8::42")
        // IPv4 seen through an IPv6 socket.
        #expect(resolver.clientAddress(peer: "::ffff:127.0.0.1", forwardedFor: ["203.0.113.7"]) == "203.0.113.7")
    }

    @Test func anUntrustedPeerCannotChooseItsAddress() throws {
        let resolver = try ClientAddressResolver(trustedProxies: ["10.0.0.0/8"])
        #expect(resolver.clientAddress(peer: "203.0.113.7", forwardedFor: ["1.2.3.4"]) == "203.0.113.7")
        #expect(resolver.clientAddress(peer: "11.0.0.1", forwardedFor: ["1.2.3.4"]) == "11.0.0.1")
    }

    @Test func garbageInTheChainStopsAtTheLastProxy() throws {
        let resolver = try ClientAddressResolver(trustedProxies: ["127.0.0.1"])
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["unknown"]) == "127.0.0.1")
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["1.2.3.4, not-an-ip"]) == "127.0.0.1")
        #expect(resolver.clientAddress(peer: "127.0.0.1", forwardedFor: ["127.0.0.1"]) == "127.0.0.1")
    }

    @Test(arguments: ["10.0.0.0/33", "localhost", "1.2.3", "::1/129", ""])
    func aBadEntryIsAConfigurationError(_ entry: String) {
        #expect(throws: ConfigurationError.self) { try ClientAddressResolver(trustedProxies: [entry]) }
    }
}
