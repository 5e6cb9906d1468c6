import Foundation
import Hummingbird
import SwitchboardProtocol

/// The back-end API: JSON in and out, behind an API key (`Authorization: apikey <key>`). Documented in
/// docs/PROTOCOL.md.
struct HTTPAPIRoutes {
    let context: ServerContext
    let stats: @Sendable () -> ServerInfo

    struct PublishBody: Decodable {
        var channel: String
        var data: RawJSON
        var idempotencyKey: String?
    }

    struct BroadcastRequest: Decodable {
        var channels: [String]
        var data: RawJSON
    }

    struct BroadcastResult: Encodable, Sendable {
        var channel: String
        var offset: UInt64?
        var epoch: String?
        var error: ServerMessage.ProtocolError?
    }

    struct ChannelRequest: Decodable {
        var channel: String
    }

    struct HistoryRequest: Decodable {
        var channel: String
        var since: StreamPosition?
        var limit: Int?
    }

    struct DisconnectRequest: Decodable {
        var user: String
        var reason: String?
    }

    func register(on router: Router<SwitchboardRequestContext>) {
        let api = router.group("api")
        api.post("publish") { request, _ in
            try self.authorize(request)
            let body = try await request.decodeJSON(PublishBody.self, limit: self.context.limits.maxHTTPBodySize)
            let position = try await self.publish(body.data, to: body.channel, idempotencyKey: body.idempotencyKey)
            return JSONBody(value: ServerMessage.PublishResult(offset: position.offset, epoch: position.epoch))
        }
        api.post("broadcast") { request, _ in
            try self.authorize(request)
            let body = try await request.decodeJSON(BroadcastRequest.self, limit: self.context.limits.maxHTTPBodySize)
            guard !body.channels.isEmpty, body.channels.count <= 1000 else {
                throw APIError(.invalidRequest, "channels must list 1 to 1000 channels")
            }
            var results: [BroadcastResult] = []
            for channel in body.channels {
                do {
                    let position = try await self.publish(body.data, to: channel)
                    results.append(.init(channel: channel, offset: position.offset, epoch: position.epoch))
                } catch let error as APIError {
                    results.append(.init(channel: channel, error: .init(code: error.code, message: error.message)))
                }
            }
            return JSONBody(value: ["results": results])
        }
        api.post("presence") { request, _ in
            try self.authorize(request)
            let body = try await request.decodeJSON(ChannelRequest.self, limit: self.context.limits.maxHTTPBodySize)
            let options = try self.namespace(of: body.channel)
            guard options.presence else { throw APIError(.featureOff, "presence is off for \(body.channel)'s namespace") }
            do {
                return JSONBody(value: ServerMessage.PresenceResult(clients: try await self.context.broker.presence(of: body.channel)))
            } catch {
                throw APIError(.unavailable, "presence failed: \(error)")
            }
        }
        api.post("history") { request, _ in
            try self.authorize(request)
            let body = try await request.decodeJSON(HistoryRequest.self, limit: self.context.limits.maxHTTPBodySize)
            let options = try self.namespace(of: body.channel)
            guard options.historySize > 0 else { throw APIError(.featureOff, "history is off for \(body.channel)'s namespace") }
            let maximum = self.context.limits.maxHistoryPerRequest
            guard (body.limit ?? 0) >= 0 else { throw APIError(.invalidRequest, "limit cannot be negative") }
            let limit = min(body.limit ?? maximum, maximum)
            let history: BrokerHistory
            do {
                history = try await self.context.broker.history(of: body.channel, since: body.since, limit: body.since == nil ? limit : maximum,
                                                                retention: self.context.retention(for: options))
            } catch {
                throw APIError(.unavailable, "history failed: \(error)")
            }
            switch history {
            case .publications(let publications, let current):
                return JSONBody(value: ServerMessage.HistoryResult(epoch: current.epoch, offset: current.offset, publications: Array(publications.prefix(limit))))
            case .notRecoverable(let current):
                throw APIError(.positionNotRetained, "position is no longer in history (stream is at offset \(current.offset), epoch \(current.epoch))")
            }
        }
        api.post("disconnect") { request, _ in
            try self.authorize(request)
            let body = try await request.decodeJSON(DisconnectRequest.self, limit: self.context.limits.maxHTTPBodySize)
            guard !body.user.isEmpty else { throw APIError(.invalidRequest, "user must not be empty") }
            let reason = body.reason ?? "disconnected by the server"
            let count = self.context.sessions.forEach(user: body.user) { session in
                session.disconnect(.init(code: .forced, reason: reason))
            }
            return JSONBody(value: ["disconnected": count])
        }
        api.get("info") { request, _ in
            try self.authorize(request)
            return JSONBody(value: self.stats())
        }
    }

    private func authorize(_ request: Request) throws {
        try Self.authorize(request, context: self.context)
    }

    /// Every back-end route's check: the API is on and the request carries one of its keys.
    static func authorize(_ request: Request, context: ServerContext) throws {
        guard !context.configuration.apiKeys.isEmpty else {
            throw APIError(.forbidden, "the HTTP API is disabled: configure apiKeys")
        }
        if case .refuse(let reason) = context.apiKeys.authenticate(authorization: request.headers[.authorization]) {
            throw APIError(.unauthorized, reason)
        }
    }

    private func namespace(of channel: String) throws -> NamespaceOptions {
        do {
            return try self.context.permissions.options(for: channel)
        } catch {
            throw APIError(error.error)
        }
    }

    /// The position the publication got; with a key used within the window, the first publish's.
    private func publish(_ data: RawJSON, to channel: String, idempotencyKey: String? = nil) async throws(APIError) -> StreamPosition {
        do {
            return try await self.context.publishFromBackEnd(data, to: channel, idempotencyKey: idempotencyKey)
        } catch {
            throw APIError(error.error)
        }
    }
}
