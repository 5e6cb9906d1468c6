import SwitchboardProtocol

/// A client connection as the hub sees it: something on one event loop that takes pushes for the channels
/// it subscribed to. Every call happens on that event loop.
protocol HubSubscriber: AnyObject {
    /// A publication in a channel this subscriber is registered for, in offset order.
    func hubDeliver(_ publication: Publication, encoded: EncodedPush)
    /// A client joined or left a channel this subscriber is registered for.
    func hubDeliverPresence(_ change: PresenceChange, client: ClientInfo, channel: String, encoded: EncodedPush)
    /// Publications of the channel may have been lost on the way to this node; only history has them.
    func hubMissedPublications(in channel: String)
}
