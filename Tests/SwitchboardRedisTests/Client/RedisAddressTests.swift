import Testing
@testable import SwitchboardRedis

@Suite struct RedisAddressTests {
    @Test func parsesURLsAndLists() {
        #expect(RedisAddress.parseList("redis://127.0.0.1:6380") == [RedisAddress(host: "127.0.0.1", port: 6380)])
        #expect(RedisAddress.parseList("redis://a:1,b:2") == [RedisAddress(host: "a", port: 1), RedisAddress(host: "b", port: 2)])
        #expect(RedisAddress.parseList("redis://cache/") == [RedisAddress(host: "cache", port: 6379)])
        #expect(RedisAddress.parseList("redis://a:0") == nil)
        #expect(RedisAddress.parseList("redis://a:1,,b") == nil)
        #expect(RedisAddress.parseList("") == nil)
    }
}
