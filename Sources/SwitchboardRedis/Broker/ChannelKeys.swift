/// The Redis names of one channel's data.
///
/// The channel name sits in braces (a Redis Cluster hash tag), so all of a channel's keys would land in one
/// slot and its scripts could run there; a standalone Redis ignores the braces.
struct ChannelKeys: Sendable {
    /// Hash: `e` the epoch, `o` the last offset.
    let position: String
    /// Stream of retained publications; entry ids are `<offset>-0`.
    let history: String
    /// Sorted set: client id scored by the expiry of its presence (milliseconds, Redis's clock).
    let presenceExpiry: String
    /// Hash: client id → its `ClientInfo` as JSON.
    let presenceInfo: String
    /// Pub/sub channel for publications.
    let publications: String
    /// Pub/sub channel for join and leave events.
    let presenceEvents: String
    /// Followed by a publisher's idempotency key: the position its publish got, until the window ends.
    let idempotencyKeyPrefix: String

    init(channel: String, prefix: String) {
        self.position = "\(prefix):{\(channel)}:position"
        self.history = "\(prefix):{\(channel)}:history"
        self.presenceExpiry = "\(prefix):{\(channel)}:presence"
        self.presenceInfo = "\(prefix):{\(channel)}:presence-info"
        self.publications = ChannelKeys.publicationsPrefix(prefix) + channel
        self.presenceEvents = ChannelKeys.presenceEventsPrefix(prefix) + channel
        self.idempotencyKeyPrefix = "\(prefix):{\(channel)}:publish-key:"
    }

    static func publicationsPrefix(_ prefix: String) -> String { "\(prefix):publications:" }
    static func presenceEventsPrefix(_ prefix: String) -> String { "\(prefix):presence-events:" }
}
