/// A place in a channel's ordered stream: the offset of a publication, in the stream's epoch.
///
/// Offsets grow by one per publication. The epoch names one continuous history: when a channel's history is
/// lost (a broker restart without persistence, say) its epoch changes, and positions in the old epoch can no
/// longer be recovered from.
public struct StreamPosition: Sendable, Hashable, Codable {
    public var offset: UInt64
    public var epoch: String

    public init(offset: UInt64, epoch: String) {
        self.offset = offset
        self.epoch = epoch
    }
}

/// Who a connection is, as other clients and back-ends see it.
public struct ClientInfo: Sendable, Hashable, Codable {
    /// The user (the token's `sub`), empty for an anonymous client.
    public var user: String
    /// The connection's id, unique on the cluster.
    public var client: String
    /// Application data about the connection (from the token's `info` claim).
    public var info: JSONValue?

    public init(user: String, client: String, info: JSONValue? = nil) {
        self.user = user
        self.client = client
        self.info = info
    }
}

/// One message published to a channel, with its place in the channel's stream.
public struct Publication: Sendable, Hashable, Codable {
    public var channel: String
    public var offset: UInt64
    public var epoch: String
    /// The application's JSON, as text: carried from publisher to subscribers without being re-encoded.
    public var data: RawJSON
    /// The publishing client, when a client published it (nil from the HTTP API).
    public var info: ClientInfo?

    public init(channel: String, offset: UInt64, epoch: String, data: RawJSON, info: ClientInfo? = nil) {
        self.channel = channel
        self.offset = offset
        self.epoch = epoch
        self.data = data
        self.info = info
    }

    public var position: StreamPosition { StreamPosition(offset: self.offset, epoch: self.epoch) }
}
