import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardProtocol
import SwitchboardServer

/// A `Broker` for many nodes: channels live in Redis, so every node sees the same offsets, history and
/// presence, and a publication on one node reaches the subscribers of all.
///
/// How it keeps the contract:
/// - **Ordering and atomicity.** One Lua script assigns the offset (a counter in the channel's position
///   hash), appends to the history stream and PUBLISHes, with nothing from another node in between: offsets
///   never skip or repeat, and the pub/sub order is the offset order. Each node receives a channel on one
///   pub/sub connection, handled one message at a time, so the handler sees offsets in order.
/// - **Delivery.** A node SUBSCRIBEs only to channels its clients use, and `subscribe` returns once Redis
///   confirmed. After a lost pub/sub connection the node subscribes again; what was published meanwhile is
///   not replayed: once Redis confirms each channel again, the handler hears
///   `broker(mayHaveMissedPublicationsIn:)`, and the hub sends that channel's subscribers to history.
/// - **Epochs.** Epoch and offset live in Redis, so they survive node restarts; the epoch changes only when
///   the position hash is gone (expired after ``RedisBrokerConfiguration/positionRetention`` without
///   publications, `FLUSHALL`, a Redis restart without persistence).
/// - **Presence** is a sorted set scored by expiry on Redis's clock, cleaned when read: a crashed node stops
///   refreshing, and its clients drop out after their TTL.
///
/// While Redis is down every operation throws `BrokerError` at once (not after a timeout) and the
/// connections come back in the background with backoff. A publish whose connection dropped with the
/// command in flight throws although the script may have run: Redis cannot tell, and neither can we.
public final class RedisBroker: Broker {
    private struct Shard: Sendable {
        let commands: RedisClient
        let subscriber: RedisSubscriber
    }

    private let configuration: RedisBrokerConfiguration
    private let shards: [Shard]
    private let ring: HashRing
    private let handler = NIOLockedValueBox<(any BrokerEventHandler)?>(nil)
    private let logger: Logger
    private let makeEpoch: @Sendable () -> String

    /// - Parameters:
    ///   - configuration: the Redis servers (channels are spread over them) and how long positions live.
    ///   - eventLoopGroup: where the Redis connections run.
    ///   - logger: for connection losses and unreadable messages.
    ///   - makeEpoch: names a new stream (default: 8 random characters, as `MemoryBroker` does).
    public init(configuration: RedisBrokerConfiguration, eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "switchboard.redis"),
                makeEpoch: @escaping @Sendable () -> String = MemoryBroker.randomEpoch) {
        self.configuration = configuration
        self.logger = logger
        self.makeEpoch = makeEpoch
        self.ring = HashRing(servers: configuration.addresses.map(\.description))
        let handler = self.handler
        let prefix = configuration.keyPrefix
        self.shards = configuration.addresses.map { address in
            let commands = RedisClient(address: address, configuration: configuration.client, eventLoopGroup: eventLoopGroup, logger: logger)
            let pubSub = RedisClient(address: address, configuration: configuration.client, eventLoopGroup: eventLoopGroup, logger: logger)
            let subscriber = RedisSubscriber(client: pubSub, logger: logger, onMessage: { name, payload in
                RedisBroker.deliver(name: name, payload: payload, prefix: prefix, to: handler.withLockedValue { $0 }, logger: logger)
            }, onResubscribed: { name in
                // Only the publication feed has a position to recover; presence events are not recovered.
                let publications = ChannelKeys.publicationsPrefix(prefix)
                guard name.hasPrefix(publications), let handler = handler.withLockedValue({ $0 }) else { return }
                handler.broker(mayHaveMissedPublicationsIn: String(name.dropFirst(publications.count)))
            })
            return Shard(commands: commands, subscriber: subscriber)
        }
    }

    /// Connects to every server. Returns after the first attempts, whether they succeeded or not: a Redis that
    /// is down now is retried in the background, and operations fail with `BrokerError` until it is back.
    public func start(handler: any BrokerEventHandler) async throws {
        self.handler.withLockedValue { $0 = handler }
        for shard in self.shards {
            shard.commands.start()
            shard.subscriber.start()
        }
        for shard in self.shards {
            // Both connections: a `subscribe` right after `start` needs the pub/sub one.
            await shard.subscriber.waitForConnectionAttempt()
            do {
                _ = try await shard.commands.connection()
            } catch {
                self.logger.warning("Redis is not reachable yet; the broker will keep trying", metadata: ["error": "\(error)"])
            }
        }
    }

    public func shutdown() async {
        self.handler.withLockedValue { $0 = nil }
        for shard in self.shards {
            await shard.subscriber.shutdown()
            await shard.commands.shutdown()
        }
    }

    public func subscribe(_ channel: String) async throws {
        let keys = self.keys(channel)
        try await self.mappingErrors("subscribe to", channel) {
            try await self.shard(channel).subscriber.subscribe([keys.publications, keys.presenceEvents])
        }
    }

    public func unsubscribe(_ channel: String) async throws {
        let keys = self.keys(channel)
        await self.shard(channel).subscriber.unsubscribe([keys.publications, keys.presenceEvents])
    }

    public func publish(_ data: RawJSON, to channel: String, info: ClientInfo?, history: HistoryRetention) async throws -> Publication {
        try await self.publishOne(PublishRequest(channel: channel, data: data, info: info, history: history))
    }

    private func publishOne(_ request: PublishRequest) async throws -> Publication {
        do {
            let call = try self.publishCall(request)
            let reply = try await BrokerScripts.publish.run(on: self.shard(request.channel).commands, keys: call.keys, arguments: call.arguments)
            return try Self.publication(request, from: reply)
        } catch let duplicate as DuplicatePublication {
            throw duplicate
        } catch {
            throw Self.brokerError(error, action: "publish to", channel: request.channel, mayHaveTakenEffect: true)
        }
    }

    /// A batch goes to each Redis server as one pipeline of its channels' publish scripts, in order: one
    /// round trip per server instead of one per publication, and the same offsets and order as one by one.
    public func publish(_ requests: [PublishRequest]) async -> [Result<Publication, any Error>] {
        if requests.count == 1 {
            do {
                return [.success(try await self.publishOne(requests[0]))]
            } catch {
                return [.failure(error)]
            }
        }
        guard !requests.isEmpty else { return [] }
        var byServer: [Int: [Int]] = [:]
        for (index, request) in requests.enumerated() { byServer[self.ring.server(for: request.channel), default: []].append(index) }
        var outcomes = [Result<Publication, any Error>?](repeating: nil, count: requests.count)
        await withTaskGroup(of: [(Int, Result<Publication, any Error>)].self) { group in
            for (server, indices) in byServer {
                group.addTask {
                    let results = await self.publishPipelined(indices.map { requests[$0] }, on: self.shards[server].commands)
                    return Array(zip(indices, results))
                }
            }
            for await part in group {
                for (index, outcome) in part { outcomes[index] = outcome }
            }
        }
        return outcomes.map { $0! }
    }

    private func publishPipelined(_ requests: [PublishRequest], on client: RedisClient) async -> [Result<Publication, any Error>] {
        // A body that cannot be encoded fails alone, before anything is sent.
        let calls = requests.map { request in Result { try self.publishCall(request) } }
        let replies = await BrokerScripts.publish.run(pipelined: calls.compactMap { try? $0.get() }, on: client)
        var next = replies.makeIterator()
        return zip(requests, calls).map { request, call -> Result<Publication, any Error> in
            let outcome: Result<Publication, any Error>
            switch call {
            case .failure(let error): outcome = .failure(error)
            case .success: outcome = next.next()!.flatMap { reply in Result { try Self.publication(request, from: reply) } }
            }
            return outcome.mapError { error in
                error is DuplicatePublication ? error : Self.brokerError(error, action: "publish to", channel: request.channel, mayHaveTakenEffect: true)
            }
        }
    }

    private func publishCall(_ request: PublishRequest) throws -> (keys: [String], arguments: [String]) {
        let keys = self.keys(request.channel)
        let body = try BrokerWireFormat.encodeBody(data: request.data, info: request.info)
        let arguments = [self.makeEpoch(), self.positionTTL, body, String(max(0, request.history.size)),
                         String(max(0, request.history.seconds)), keys.publications]
        guard let idempotency = request.idempotency else { return ([keys.position, keys.history], arguments) }
        return ([keys.position, keys.history, keys.idempotencyKeyPrefix + idempotency.key], arguments + [String(max(1, idempotency.seconds))])
    }

    /// The script's `{offset, epoch}`, or `{offset, epoch, 1}` for a key already used (thrown as
    /// ``DuplicatePublication``).
    private static func publication(_ request: PublishRequest, from reply: RESPValue) throws -> Publication {
        guard let fields = reply.elements, (2...3).contains(fields.count), let offset = fields[0].int64, offset > 0,
              let epoch = fields[1].string else {
            throw RedisClientError.unexpectedReply("publish script", reply)
        }
        guard fields.count == 2 else { throw DuplicatePublication(position: StreamPosition(offset: UInt64(offset), epoch: epoch)) }
        return Publication(channel: request.channel, offset: UInt64(offset), epoch: epoch, data: request.data, info: request.info)
    }

    public func history(of channel: String, since: StreamPosition?, limit: Int, retention: HistoryRetention) async throws -> BrokerHistory {
        try await self.mappingErrors("read the history of", channel) {
            let keys = self.keys(channel)
            var mode = ["none"]
            if let since {
                mode = ["since", String(since.offset), since.epoch, String(max(0, limit))]
            } else if limit > 0, retention.size > 0, retention.seconds > 0 {
                mode = ["latest", String(min(limit, retention.size))]
            }
            let reply = try await BrokerScripts.history.run(
                on: self.shard(channel).commands, keys: [keys.position, keys.history],
                arguments: [self.makeEpoch(), self.positionTTL] + mode)
            let read = try HistoryRead(reply, channel: channel)
            return read.answer(since: since, limit: limit, retention: retention)
        }
    }

    public func addPresence(_ client: ClientInfo, to channel: String, ttl: Int) async throws {
        try await self.mappingErrors("add presence in", channel) {
            let keys = self.keys(channel)
            _ = try await BrokerScripts.addPresence.run(
                on: self.shard(channel).commands, keys: [keys.presenceExpiry, keys.presenceInfo],
                arguments: [client.client, try BrokerWireFormat.encodeClient(client), String(max(ttl, 1))])
        }
    }

    public func removePresence(client: String, from channel: String) async throws {
        try await self.mappingErrors("remove presence in", channel) {
            let keys = self.keys(channel)
            _ = try await BrokerScripts.removePresence.run(
                on: self.shard(channel).commands, keys: [keys.presenceExpiry, keys.presenceInfo], arguments: [client])
        }
    }

    public func presence(of channel: String) async throws -> [ClientInfo] {
        try await self.mappingErrors("read presence in", channel) {
            let keys = self.keys(channel)
            let reply = try await BrokerScripts.presence.run(
                on: self.shard(channel).commands, keys: [keys.presenceExpiry, keys.presenceInfo], arguments: [])
            guard let entries = reply.elements else { throw RedisClientError.unexpectedReply("presence script", reply) }
            let clients = try entries.map { entry -> ClientInfo in
                guard case .bulkString(let json) = entry else { throw RedisClientError.unexpectedReply("presence script", reply) }
                return try BrokerWireFormat.decodeClient(json)
            }
            return clients.sorted { ($0.user, $0.client) < ($1.user, $1.client) }
        }
    }

    public func publishPresenceEvent(_ event: PresenceChange, client: ClientInfo, channel: String) async throws {
        try await self.mappingErrors("announce presence in", channel) {
            let message = try BrokerWireFormat.encodePresenceEvent(event, client: client)
            try await self.shard(channel).commands.send(RedisCommand("PUBLISH", [self.keys(channel).presenceEvents, message]))
        }
    }

    public func storeTicket(_ ticket: String, grant: [UInt8], ttl: Int) async throws {
        let key = self.ticketKey(ticket)
        let reply: RESPValue
        do {
            reply = try await self.shard(key).commands.send(
                RedisCommand("SET", [key, String(decoding: grant, as: UTF8.self), "NX", "EX", String(max(ttl, 1))]))
        } catch {
            throw BrokerError("cannot store a connect ticket: \(error)")
        }
        guard reply != .null else { throw BrokerError("a ticket with that id exists") }
    }

    public func redeemTicket(_ ticket: String) async throws -> TicketRedemption {
        let key = self.ticketKey(ticket)
        let reply: RESPValue
        do {
            reply = try await BrokerScripts.redeemTicket.run(on: self.shard(key).commands, keys: [key], arguments: [])
        } catch {
            throw BrokerError("cannot redeem a connect ticket: \(error)")
        }
        switch reply {
        case .null: return .unknown
        case .bulkString(let bytes) where bytes.readableBytes == 0: return .alreadyUsed
        case .bulkString(let bytes): return .granted(Array(bytes.readableBytesView))
        default: throw BrokerError("cannot redeem a connect ticket: \(RedisClientError.unexpectedReply("redeem script", reply))")
        }
    }

    // MARK: - Internals

    /// Tickets spread over the shards by their id, as channels by their name.
    private func ticketKey(_ ticket: String) -> String { "\(self.configuration.keyPrefix):ticket:\(ticket)" }

    /// The index of the server that holds `channel` (tests check the spread).
    func shardIndex(for channel: String) -> Int { self.ring.server(for: channel) }

    private func shard(_ channel: String) -> Shard { self.shards[self.ring.server(for: channel)] }

    private func keys(_ channel: String) -> ChannelKeys { ChannelKeys(channel: channel, prefix: self.configuration.keyPrefix) }

    private var positionTTL: String {
        String(max(1, self.configuration.positionRetention.components.seconds))
    }

    /// Every failure leaves as a `BrokerError` that says what was attempted and why it failed.
    private func mappingErrors<Value: Sendable>(_ action: String, _ channel: String, mayHaveTakenEffect: Bool = false,
                                                _ body: () async throws -> Value) async throws -> Value {
        do {
            return try await body()
        } catch {
            throw Self.brokerError(error, action: action, channel: channel, mayHaveTakenEffect: mayHaveTakenEffect)
        }
    }

    private static func brokerError(_ error: any Error, action: String, channel: String, mayHaveTakenEffect: Bool) -> BrokerError {
        switch error {
        case let error as BrokerError:
            return error
        case let error as RedisClientError where mayHaveTakenEffect && error.commandMayHaveRun:
            // The script may have run (a timeout after it was sent, a lost reply): saying that nothing was
            // done could make a caller's retry publish twice, or its user believe a publication was lost.
            return .outcomeUnknown("no confirmation to \(action) \(channel), it may or may not have happened: \(error)")
        default:
            return BrokerError("cannot \(action) \(channel): \(error)")
        }
    }

    /// A pub/sub message: a publication or a presence event, by the name it came on.
    private static func deliver(name: String, payload: ByteBuffer, prefix: String, to handler: (any BrokerEventHandler)?, logger: Logger) {
        guard let handler else { return }
        let publications = ChannelKeys.publicationsPrefix(prefix)
        let presenceEvents = ChannelKeys.presenceEventsPrefix(prefix)
        do {
            if name.hasPrefix(publications) {
                let channel = String(name.dropFirst(publications.count))
                handler.broker(didPublish: try BrokerWireFormat.decodeMessage(payload, channel: channel))
            } else if name.hasPrefix(presenceEvents) {
                let channel = String(name.dropFirst(presenceEvents.count))
                let (change, client) = try BrokerWireFormat.decodePresenceEvent(payload)
                handler.broker(didChangePresence: change, client: client, channel: channel)
            }
        } catch {
            // Someone else's message on our names (another deployment sharing the prefix?): not ours to crash on.
            logger.error("Unreadable message from Redis pub/sub", metadata: ["name": "\(name)", "error": "\(error)"])
        }
    }
}
