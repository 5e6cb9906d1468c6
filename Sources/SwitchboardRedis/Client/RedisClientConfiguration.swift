/// How a ``RedisClient`` connects and how long it waits.
public struct RedisClientConfiguration: Sendable {
    /// A connection attempt that takes longer fails (and is retried with backoff).
    public var connectTimeout: Duration
    /// A command without a reply by then fails with a timeout (the connection stays).
    public var commandTimeout: Duration
    public var reconnectBackoff: ReconnectBackoff
    /// Sent with `HELLO 3 AUTH` when set.
    public var password: String?
    /// The ACL user for ``password`` (`default` when nil).
    public var username: String?
    public var decoderLimits: RESPDecoder.Limits

    public init(connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5),
                reconnectBackoff: ReconnectBackoff = ReconnectBackoff(), password: String? = nil, username: String? = nil,
                decoderLimits: RESPDecoder.Limits = RESPDecoder.Limits()) {
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.reconnectBackoff = reconnectBackoff
        self.password = password
        self.username = username
        self.decoderLimits = decoderLimits
    }
}
