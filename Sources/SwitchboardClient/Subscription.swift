import Foundation
import SwitchboardProtocol

/// One publication as the application sees it: the decoded value and its place in the channel's stream.
public struct ReceivedPublication<Value: Sendable>: Sendable {
    public var value: Value
    public var channel: String
    public var offset: UInt64
    public var epoch: String
    /// The publishing connection; nil when a back-end published through the HTTP API.
    public var publisher: ClientInfo?

    public var position: StreamPosition { StreamPosition(offset: self.offset, epoch: self.epoch) }
}

/// Something that happened to a subscription besides a publication.
public enum SubscriptionEvent: Sendable, Hashable {
    /// Publications were lost and cannot be recovered: after a reconnect the server answered
    /// `recovered: false`, or a live publication arrived in a new epoch (the channel's history restarted).
    /// `lastDelivered` is the last position the application saw (nil if none); publications continue after
    /// `resumedAt`. Reload whatever state the channel describes.
    case gap(lastDelivered: StreamPosition?, resumedAt: StreamPosition)
    /// After a reconnect, every missed publication was recovered (`count` of them) and delivered in order.
    case recovered(count: Int)
    /// A publication's data did not decode as the subscription's type; it was skipped.
    case undecodable(StreamPosition, message: String)
}

/// A channel's publications, decoded as `Value`, without gaps or duplicates across reconnects.
///
/// ```swift
/// let chat = try await client.subscribe("chat:lobby", as: ChatMessage.self)
/// for try await message in chat {
///     print(message.value.text, "#\(message.offset)")
/// }
/// ```
///
/// The sequence ends after ``unsubscribe()``, and throws when the server refuses a resubscription.
/// Out-of-band happenings (a gap, a recovery) arrive on ``events``.
public struct Subscription<Value: Decodable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = ReceivedPublication<Value>
    public typealias Failure = any Error

    public let channel: String
    /// Gaps, recoveries and undecodable publications, in the order they happened.
    public let events: AsyncStream<SubscriptionEvent>
    private let publications: AsyncThrowingStream<ReceivedPublication<Value>, any Error>
    private let engine: ClientEngine

    init(channel: String, events: AsyncStream<SubscriptionEvent>,
         publications: AsyncThrowingStream<ReceivedPublication<Value>, any Error>, engine: ClientEngine) {
        self.channel = channel
        self.events = events
        self.publications = publications
        self.engine = engine
    }

    /// Stops the subscription: the server stops pushing, and the sequence ends.
    public func unsubscribe() async throws {
        try await self.engine.unsubscribe(self.channel)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<ReceivedPublication<Value>, any Error>.AsyncIterator
        public mutating func next() async throws -> ReceivedPublication<Value>? {
            try await self.base.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.publications.makeAsyncIterator())
    }
}

/// The type-erased end of a ``Subscription`` the engine writes to: decodes and yields.
struct SubscriptionSink: Sendable {
    let deliver: @Sendable (Publication) -> Void
    let event: @Sendable (SubscriptionEvent) -> Void
    let finish: @Sendable ((any Error)?) -> Void

    static func make<Value: Decodable & Sendable>(channel: String, as type: Value.Type, engine: ClientEngine)
        -> (SubscriptionSink, Subscription<Value>)
    {
        let (events, eventContinuation) = AsyncStream<SubscriptionEvent>.makeStream()
        let (publications, continuation) = AsyncThrowingStream<ReceivedPublication<Value>, any Error>.makeStream()
        let sink = SubscriptionSink(
            deliver: { publication in
                do {
                    let value = try publication.data.decode(as: Value.self)
                    continuation.yield(ReceivedPublication(value: value, channel: publication.channel, offset: publication.offset,
                                                           epoch: publication.epoch, publisher: publication.info))
                } catch {
                    eventContinuation.yield(.undecodable(publication.position, message: "\(error)"))
                }
            },
            event: { eventContinuation.yield($0) },
            finish: { error in
                continuation.finish(throwing: error)
                eventContinuation.finish()
            })
        return (sink, Subscription(channel: channel, events: events, publications: publications, engine: engine))
    }
}

extension JSONValue {
    /// Through JSON text: the simplest faithful conversion, and publications are small.
    func decode<Value: Decodable>(as type: Value.Type) throws -> Value {
        try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(self))
    }

    init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}
