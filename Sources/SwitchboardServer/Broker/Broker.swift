import SwitchboardProtocol

/// What carries publications between nodes and keeps each channel's ordered history: the embedded
/// ``MemoryBroker`` on one node, Redis when many nodes share channels.
///
/// ## Contract
/// Every implementation keeps these promises; the hub and the recovery logic rely on them.
/// - **Ordering.** Within a channel, offsets grow by exactly one per publication in the current epoch, and
///   ``BrokerEventHandler/broker(didPublish:)`` is called in offset order, one call at a time per channel.
/// - **Atomicity.** `publish` assigns the offset and appends to history as one step: a publication that
///   got an offset is in history (until size or age evicts it) and is delivered to every node subscribed
///   to the channel. A `publish` that throws did neither, unless the error is a ``BrokerError`` whose
///   `outcomeIsUnknown` (the broker may have run it but its answer was lost: a timeout, a connection that
///   closed after the request left); then it may have done both, never half. Offsets never skip or repeat.
/// - **Delivery.** A node receives every publication of a channel from the moment its `subscribe(_:)`
///   returns until it unsubscribes. A publication it missed (a broker outage) is never replayed live; its
///   clients recover it from history. So that they learn of it even when the channel stays quiet, a broker
///   that lost its live feed calls ``BrokerEventHandler/broker(mayHaveMissedPublicationsIn:)`` for each
///   subscribed channel once the channel is live again.
/// - **Epochs.** A channel's epoch changes exactly when its history is lost (a restart without persistence,
///   an evicted stream), so a position in an older epoch is reported as not recoverable, never answered
///   with a partial or wrong list.
/// - **Presence** entries expire after their `ttl` unless refreshed, so a crashed node's clients disappear.
/// - **Idempotency.** A ``PublishRequest`` with ``PublishRequest/idempotency`` publishes only if its key was
///   not used in that channel within the key's window; otherwise it publishes nothing and fails with
///   ``DuplicatePublication``, which carries the position the first publish got. The check and the publish
///   are one atomic step. Only the batch ``publish(_:)`` carries keys: a broker that keeps them overrides it.
/// - **Tickets** are redeemed at most once across every node sharing the broker: of any number of
///   concurrent ``redeemTicket(_:)`` calls for one ticket, exactly one gets its grant.
public protocol Broker: Sendable {
    /// Starts delivering this node's events to `handler`. Called once, before any other method.
    func start(handler: any BrokerEventHandler) async throws

    /// Stops delivery and releases connections.
    func shutdown() async

    /// This node wants the channel's publications and presence events (a client here subscribed).
    func subscribe(_ channel: String) async throws

    /// No client on this node is subscribed any more.
    func unsubscribe(_ channel: String) async throws

    /// Assigns the next offset, appends to the channel's history (bounded by `history`) and delivers to every
    /// subscribed node.
    func publish(_ data: RawJSON, to channel: String, info: ClientInfo?, history: HistoryRetention) async throws -> Publication

    /// Publishes each request in order, as one `publish` after another would, and returns each outcome in
    /// the same order (one failing does not stop the rest). A broker may hand the batch's publications to
    /// ``BrokerEventHandler/broker(didPublishBatch:)`` together, so that the node delivers them in one
    /// write per subscriber. The default runs `publish` for each.
    func publish(_ requests: [PublishRequest]) async -> [Result<Publication, any Error>]

    /// The channel's current position and the retained publications after `since` (all retained ones when
    /// nil), oldest first, at most `limit` (the newest `limit` when `since` is nil).
    func history(of channel: String, since: StreamPosition?, limit: Int, retention: HistoryRetention) async throws -> BrokerHistory

    /// Records that a client is in a channel, until `removePresence` or `ttl` seconds without a refresh.
    func addPresence(_ client: ClientInfo, to channel: String, ttl: Int) async throws

    func removePresence(client: String, from channel: String) async throws

    /// Everyone in the channel now.
    func presence(of channel: String) async throws -> [ClientInfo]

    /// Tells every subscribed node that `client` joined or left `channel`.
    func publishPresenceEvent(_ event: PresenceChange, client: ClientInfo, channel: String) async throws

    /// Keeps `grant` (opaque bytes) under the fresh, random `ticket` for `ttl` seconds, for any node to
    /// redeem once. Throws when it cannot (a ticket with that id exists, the broker is unavailable or full).
    func storeTicket(_ ticket: String, grant: [UInt8], ttl: Int) async throws

    /// The grant the first time a ticket is redeemed, on whichever node asks first; ``TicketRedemption/alreadyUsed``
    /// afterwards (until the ticket would have expired), ``TicketRedemption/unknown`` for a ticket never
    /// stored or expired.
    func redeemTicket(_ ticket: String) async throws -> TicketRedemption
}

/// What redeeming a connect ticket found.
public enum TicketRedemption: Sendable, Hashable {
    /// First use: what was stored with the ticket.
    case granted([UInt8])
    case alreadyUsed
    /// Never stored, or expired.
    case unknown
}

extension Broker {
    public func publish(_ requests: [PublishRequest]) async -> [Result<Publication, any Error>] {
        await self.publishOneByOne(requests)
    }

    /// The default batch: `publish` for each request in turn (for a broker that overrides the batch and
    /// wants the default in some cases, or a wrapper that must see every single publish).
    public func publishOneByOne(_ requests: [PublishRequest]) async -> [Result<Publication, any Error>] {
        var outcomes: [Result<Publication, any Error>] = []
        outcomes.reserveCapacity(requests.count)
        for request in requests {
            do {
                outcomes.append(.success(try await self.publish(request.data, to: request.channel, info: request.info, history: request.history)))
            } catch {
                outcomes.append(.failure(error))
            }
        }
        return outcomes
    }
}

/// One publication of a batch (``Broker/publish(_:)``).
public struct PublishRequest: Sendable, Hashable {
    public var channel: String
    public var data: RawJSON
    /// The publishing client, when a client publishes.
    public var info: ClientInfo?
    public var history: HistoryRetention
    /// Publish at most once per key and channel within the window (the client's retry after a lost reply).
    public var idempotency: PublishIdempotency?

    public init(channel: String, data: RawJSON, info: ClientInfo?, history: HistoryRetention, idempotency: PublishIdempotency? = nil) {
        self.channel = channel
        self.data = data
        self.info = info
        self.history = history
        self.idempotency = idempotency
    }
}

/// A publisher's key for one publication, remembered per channel for `seconds`.
public struct PublishIdempotency: Sendable, Hashable {
    public var key: String
    public var seconds: Int
    public init(key: String, seconds: Int) {
        self.key = key
        self.seconds = seconds
    }
}

/// The outcome of a publish whose idempotency key was already used in the channel within its window:
/// nothing was published, and the first publish got this position.
public struct DuplicatePublication: Error, Sendable, Hashable {
    public var position: StreamPosition
    public init(position: StreamPosition) { self.position = position }
}

/// Whether a client joined or left.
public enum PresenceChange: String, Sendable, Hashable {
    case join, leave
}

/// How much history a channel keeps: set by its namespace.
public struct HistoryRetention: Sendable, Hashable {
    public var size: Int
    public var seconds: Int
    public init(size: Int, seconds: Int) {
        self.size = size
        self.seconds = seconds
    }
}

/// A channel's history as the broker answers it.
public enum BrokerHistory: Sendable, Hashable {
    /// The publications asked for, and the channel's position when they were read.
    case publications([Publication], current: StreamPosition)
    /// `since` is in another epoch, or older than what is retained: the gap cannot be filled.
    case notRecoverable(current: StreamPosition)

    public var current: StreamPosition {
        switch self {
        case .publications(_, let current), .notRecoverable(let current): current
        }
    }
}

/// Receives what the broker delivers to this node.
public protocol BrokerEventHandler: AnyObject, Sendable {
    /// A publication in a channel this node is subscribed to; per channel, in offset order and one at a time.
    func broker(didPublish publication: Publication)
    /// Several publications at once, in order (per channel, offset order, as for single calls): a handler
    /// may deliver them together. The default hands them to ``broker(didPublish:)`` one by one.
    func broker(didPublishBatch publications: [Publication])
    /// A client joined or left a channel this node is subscribed to.
    func broker(didChangePresence change: PresenceChange, client: ClientInfo, channel: String)
    /// The channel's live feed was interrupted (a lost connection to the broker) and is back: publications
    /// made in between reached history but not this node. Called after the feed is live again, so history
    /// read from now on covers the gap.
    func broker(mayHaveMissedPublicationsIn channel: String)
}

extension BrokerEventHandler {
    public func broker(didPublishBatch publications: [Publication]) {
        for publication in publications { self.broker(didPublish: publication) }
    }

    /// A broker that never loses its live feed (the embedded one) never calls this.
    public func broker(mayHaveMissedPublicationsIn channel: String) {}
}

/// A broker operation failed. Unless ``outcomeIsUnknown``, nothing was done (callers report
/// `ErrorCode/unavailable`); with it, the operation may have taken effect (a reply lost after the broker
/// ran it: callers report `ErrorCode/outcomeUnknown` and must not say nothing happened).
public struct BrokerError: Error, Sendable, CustomStringConvertible {
    private enum Outcome: Sendable { case nothingDone, unknown }

    public var description: String
    private let outcome: Outcome

    /// A failure that did nothing.
    public init(_ description: String) {
        self.description = description
        self.outcome = .nothingDone
    }

    private init(_ description: String, outcome: Outcome) {
        self.description = description
        self.outcome = outcome
    }

    /// A failure after which the operation may or may not have taken effect.
    public static func outcomeUnknown(_ description: String) -> BrokerError {
        BrokerError(description, outcome: .unknown)
    }

    public var outcomeIsUnknown: Bool { self.outcome == .unknown }
}
