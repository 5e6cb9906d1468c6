/// Where a ``RedisBroker`` keeps its channels and how long it keeps what.
public struct RedisBrokerConfiguration: Sendable {
    /// One or more Redis servers; with several, channels are spread over them by consistent hashing. Every
    /// node of a cluster must list the same servers (in any order).
    public var addresses: [RedisAddress]
    /// Starts every key and pub/sub channel name, so several deployments can share one Redis.
    public var keyPrefix: String
    /// How long a channel's epoch and last offset outlive its last publication. Longer than any history
    /// retention: a client that missed nothing must find the same epoch when it comes back, even after its
    /// channel's history expired.
    public var positionRetention: Duration
    public var client: RedisClientConfiguration

    public init(addresses: [RedisAddress], keyPrefix: String = "switchboard", positionRetention: Duration = .seconds(30 * 24 * 3600),
                client: RedisClientConfiguration = RedisClientConfiguration()) {
        precondition(!addresses.isEmpty, "a Redis broker needs at least one address")
        self.addresses = addresses
        self.keyPrefix = keyPrefix
        self.positionRetention = positionRetention
        self.client = client
    }
}
