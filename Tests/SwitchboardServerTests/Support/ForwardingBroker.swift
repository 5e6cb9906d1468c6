import SwitchboardProtocol
@testable import SwitchboardServer

/// The embedded broker behind a class whose publishing a test overrides (a broker that loses replies, one
/// that counts batches); everything else goes to the memory broker as it is.
class ForwardingBroker: Broker, @unchecked Sendable {
    let memory = MemoryBroker()

    func start(handler: any BrokerEventHandler) async throws { try await self.memory.start(handler: handler) }
    func shutdown() async { await self.memory.shutdown() }
    func subscribe(_ channel: String) async throws { try await self.memory.subscribe(channel) }
    func unsubscribe(_ channel: String) async throws { try await self.memory.unsubscribe(channel) }
    func publish(_ data: RawJSON, to channel: String, info: ClientInfo?, history: HistoryRetention) async throws -> Publication {
        try await self.memory.publish(data, to: channel, info: info, history: history)
    }
    /// One by one through `publish(_:to:info:history:)`, so a subclass that overrides only that sees every
    /// publication.
    func publish(_ requests: [PublishRequest]) async -> [Result<Publication, any Error>] {
        await self.publishOneByOne(requests)
    }
    func history(of channel: String, since: StreamPosition?, limit: Int, retention: HistoryRetention) async throws -> BrokerHistory {
        try await self.memory.history(of: channel, since: since, limit: limit, retention: retention)
    }
    func addPresence(_ client: ClientInfo, to channel: String, ttl: Int) async throws { try await self.memory.addPresence(client, to: channel, ttl: ttl) }
    func removePresence(client: String, from channel: String) async throws { try await self.memory.removePresence(client: client, from: channel) }
    func presence(of channel: String) async throws -> [ClientInfo] { try await self.memory.presence(of: channel) }
    func publishPresenceEvent(_ event: PresenceChange, client: ClientInfo, channel: String) async throws {
        try await self.memory.publishPresenceEvent(event, client: client, channel: channel)
    }
    func storeTicket(_ ticket: String, grant: [UInt8], ttl: Int) async throws {
        try await self.memory.storeTicket(ticket, grant: grant, ttl: ttl)
    }
    func redeemTicket(_ ticket: String) async throws -> TicketRedemption { try await self.memory.redeemTicket(ticket) }
}
