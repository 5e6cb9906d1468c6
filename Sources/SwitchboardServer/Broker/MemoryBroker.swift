import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol

/// The embedded broker: every channel's stream and presence in this process. The default for a single node.
///
/// Keeps the ``Broker`` contract: a publication's offset, its place in history and its hand-off to the
/// event handler happen under the channel's lock, so the handler sees each channel in offset order. Streams
/// live in shards chosen by channel name, so publishing to different channels rarely contends.
///
/// Nothing survives the process: after a restart every channel has a new epoch, and returning clients are
/// told their position is not recoverable.
public final class MemoryBroker: Broker {
    /// Milliseconds on a monotonic scale; injectable so tests can move time forward.
    public typealias Clock = @Sendable () -> UInt64

    private struct Shard {
        var streams: [String: ChannelStream] = [:]
        /// Channels this node's clients are subscribed to: their streams are never dropped as idle.
        var subscribed: Set<String> = []
        /// channel → client id → (who, expiry in clock milliseconds)
        var presence: [String: [String: (info: ClientInfo, expiresAt: UInt64)]] = [:]
    }

    private let shards: [NIOLockedValueBox<Shard>]
    private let tickets = NIOLockedValueBox(TicketTable())
    private let handler = NIOLockedValueBox<(any BrokerEventHandler)?>(nil)
    private let clock: Clock
    private let makeEpoch: @Sendable () -> String

    /// - Parameters:
    ///   - shardCount: how many independently locked parts channels are spread over (contention between threads).
    ///   - clock: milliseconds on a monotonic scale (default: the system's uptime clock).
    ///   - makeEpoch: names a new stream (default: 8 random characters).
    public init(shardCount: Int = 16, clock: @escaping Clock = MemoryBroker.uptimeMilliseconds,
                makeEpoch: @escaping @Sendable () -> String = MemoryBroker.randomEpoch) {
        self.shards = (0..<max(1, shardCount)).map { _ in NIOLockedValueBox(Shard()) }
        self.clock = clock
        self.makeEpoch = makeEpoch
    }

    public static let uptimeMilliseconds: Clock = { UInt64(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    public static let randomEpoch: @Sendable () -> String = {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<8).map { _ in alphabet.randomElement()! })
    }

    public func start(handler: any BrokerEventHandler) async throws {
        self.handler.withLockedValue { $0 = handler }
    }

    public func shutdown() async {
        self.handler.withLockedValue { $0 = nil }
    }

    // One process is the only node: every publication reaches the handler, which ignores channels nobody
    // here is subscribed to. Interest only keeps a channel's stream (and its epoch) alive.
    public func subscribe(_ channel: String) async throws {
        _ = self.shard(for: channel).withLockedValue { $0.subscribed.insert(channel) }
    }

    public func unsubscribe(_ channel: String) async throws {
        _ = self.shard(for: channel).withLockedValue { $0.subscribed.remove(channel) }
    }

    public func publish(_ data: RawJSON, to channel: String, info: ClientInfo?, history: HistoryRetention) async throws -> Publication {
        let handler = self.handler.withLockedValue { $0 }
        let now = self.clock()
        return self.shard(for: channel).withLockedValue { shard in
            var stream = shard.streams.removeValue(forKey: channel) ?? self.newStream(channel, history)
            let publication = stream.append(data, info: info, now: now)
            shard.streams[channel] = stream
            // Still under the lock: the handler sees this channel's publications in offset order.
            handler?.broker(didPublish: publication)
            return publication
        }
    }

    /// Each run of requests to one channel is published under that channel's lock and handed to the handler
    /// as one batch, so the node delivers the run in one write per subscriber.
    public func publish(_ requests: [PublishRequest]) async -> [Result<Publication, any Error>] {
        let handler = self.handler.withLockedValue { $0 }
        let now = self.clock()
        var outcomes: [Result<Publication, any Error>] = []
        outcomes.reserveCapacity(requests.count)
        var start = requests.startIndex
        while start < requests.endIndex {
            let channel = requests[start].channel
            var end = start + 1
            while end < requests.endIndex, requests[end].channel == channel { end += 1 }
            self.shard(for: channel).withLockedValue { shard in
                var stream = shard.streams.removeValue(forKey: channel) ?? self.newStream(channel, requests[start].history)
                var published: [Publication] = []
                published.reserveCapacity(end - start)
                for request in requests[start..<end] {
                    switch stream.append(request.data, info: request.info, idempotency: request.idempotency, now: now) {
                    case .success(let publication):
                        published.append(publication)
                        outcomes.append(.success(publication))
                    case .failure(let duplicate):
                        outcomes.append(.failure(duplicate))
                    }
                }
                shard.streams[channel] = stream
                // Still under the lock: the handler sees this channel's publications in offset order.
                if !published.isEmpty { handler?.broker(didPublishBatch: published) }
            }
            start = end
        }
        return outcomes
    }

    public func history(of channel: String, since: StreamPosition?, limit: Int, retention: HistoryRetention) async throws -> BrokerHistory {
        let now = self.clock()
        return self.shard(for: channel).withLockedValue { shard in
            var stream = shard.streams.removeValue(forKey: channel) ?? self.newStream(channel, retention)
            defer { shard.streams[channel] = stream }
            let current = stream.position
            guard let since else {
                return .publications(limit > 0 ? stream.history(limit: limit, now: now) : [], current: current)
            }
            switch stream.publications(after: since, now: now) {
            case .recovered(let publications) where publications.count <= limit:
                return .publications(publications, current: current)
            case .recovered, .notRecoverable:
                return .notRecoverable(current: current)
            }
        }
    }

    public func addPresence(_ client: ClientInfo, to channel: String, ttl: Int) async throws {
        let expiresAt = self.clock() + UInt64(max(ttl, 1)) * 1000
        self.shard(for: channel).withLockedValue { shard in
            shard.presence[channel, default: [:]][client.client] = (client, expiresAt)
        }
    }

    public func removePresence(client: String, from channel: String) async throws {
        self.shard(for: channel).withLockedValue { shard in
            shard.presence[channel]?[client] = nil
            if shard.presence[channel]?.isEmpty == true { shard.presence[channel] = nil }
        }
    }

    public func presence(of channel: String) async throws -> [ClientInfo] {
        let now = self.clock()
        return self.shard(for: channel).withLockedValue { shard in
            guard var members = shard.presence[channel] else { return [] }
            members = members.filter { $0.value.expiresAt > now }
            shard.presence[channel] = members.isEmpty ? nil : members
            return members.values.map(\.info).sorted { ($0.user, $0.client) < ($1.user, $1.client) }
        }
    }

    public func publishPresenceEvent(_ event: PresenceChange, client: ClientInfo, channel: String) async throws {
        let handler = self.handler.withLockedValue { $0 }
        self.shard(for: channel).withLockedValue { _ in
            handler?.broker(didChangePresence: event, client: client, channel: channel)
        }
    }

    public func storeTicket(_ ticket: String, grant: [UInt8], ttl: Int) async throws {
        let now = self.clock()
        let stored = self.tickets.withLockedValue { table in
            Result { () throws(TicketTable.StoreFailure) in
                try table.store(ticket, grant: grant, expiresAt: now + UInt64(max(ttl, 1)) * 1000, now: now)
            }
        }
        switch stored {
        case .success: return
        case .failure(.full): throw BrokerError("too many outstanding connect tickets; try again in a few seconds")
        case .failure(.duplicate): throw BrokerError("a ticket with that id exists")
        }
    }

    public func redeemTicket(_ ticket: String) async throws -> TicketRedemption {
        let now = self.clock()
        return self.tickets.withLockedValue { $0.redeem(ticket, now: now) }
    }

    /// Drops streams nobody here is subscribed to whose history has aged out (or was never kept): their epoch
    /// is then forgotten, which the contract allows (history lost means a new epoch). Without this, every
    /// channel ever published to would hold memory forever. Call periodically.
    public func removeIdleStreams() {
        let now = self.clock()
        for shard in self.shards {
            shard.withLockedValue { shard in
                for (channel, var stream) in shard.streams where !shard.subscribed.contains(channel) {
                    stream.prune(now: now)
                    if stream.count == 0, !stream.remembersKeys(now: now) { shard.streams[channel] = nil } else { shard.streams[channel] = stream }
                }
            }
        }
    }

    private func newStream(_ channel: String, _ retention: HistoryRetention) -> ChannelStream {
        ChannelStream(channel: channel, epoch: self.makeEpoch(), capacity: max(0, retention.size),
                      retentionMilliseconds: UInt64(max(0, retention.seconds)) * 1000)
    }

    private func shard(for channel: String) -> NIOLockedValueBox<Shard> {
        var hasher = Hasher()
        hasher.combine(channel)
        return self.shards[Int(UInt(bitPattern: hasher.finalize()) % UInt(self.shards.count))]
    }
}
