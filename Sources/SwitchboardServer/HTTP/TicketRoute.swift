import Foundation
import Hummingbird
import SwitchboardProtocol

/// Connect tickets: a credential that must not travel in a URL is exchanged for a ``ConnectTicket`` that may,
/// for `auth.ticketSeconds` and one connection. The answer is `{"ticket": "…", "expires": 10}` (seconds),
/// never cached.
///
/// - `POST /connection/ticket` with `Authorization: Bearer <JWT>`: a ticket for the token's user, channels,
///   info and expiry (what a page does before it opens an `EventSource`).
/// - `POST /api/ticket` with the API key and `{"user": "alice", "channels": […], "info": {…}, "expiresIn": 3600}`:
///   a back-end mints a ticket on behalf of one of its users; the connection expires after `expiresIn`
///   seconds (default 3600, at most 86,400) as if its token had.
struct TicketRoute {
    let context: ServerContext
    let origins: OriginPolicy

    static let path = "/connection/ticket"

    struct OnBehalfRequest: Decodable {
        var user: String
        var channels: [String]?
        var info: [String: JSONValue]?
        var expiresIn: Int?
    }

    struct Minted: Encodable, Sendable {
        var ticket: String
        var expires: Int
    }

    func register(on router: Router<SwitchboardRequestContext>) {
        router.post("connection/ticket") { request, _ -> Response in
            if case .refuse(let reason) = self.origins.decide(origin: request.headers[.origin], host: request.head.authority) {
                throw APIError(.forbidden, reason)
            }
            guard let token = SSERoutes.bearerToken(request) else {
                throw APIError(.unauthorized, "send the token as Authorization: Bearer <token> (back-ends: POST /api/ticket)")
            }
            switch self.context.verifier.check(token, now: self.context.now()) {
            case .success(let credentials): return try await self.mint(for: credentials)
            case .failure(let error): throw APIError(.init(error.errorCode), error.message)
            }
        }
        router.post("api/ticket") { request, _ -> Response in
            try HTTPAPIRoutes.authorize(request, context: self.context)
            let body = try await request.decodeJSON(OnBehalfRequest.self, limit: self.context.limits.maxHTTPBodySize)
            guard !body.user.isEmpty, body.user.utf8.count <= 256 else {
                throw APIError(.invalidRequest, "user must be 1 to 256 bytes")
            }
            let lifetime = body.expiresIn ?? 3600
            guard (1...86_400).contains(lifetime) else {
                throw APIError(.invalidRequest, "expiresIn must be 1 to 86400 seconds")
            }
            return try await self.mint(for: Credentials(user: body.user, expiresAt: self.context.now().addingTimeInterval(TimeInterval(lifetime)),
                                                        channels: body.channels ?? [], info: body.info))
        }
    }

    private func mint(for credentials: Credentials) async throws -> Response {
        let seconds = self.context.configuration.auth.ticketSeconds
        let id = ConnectTicket.newID()
        let grant = ConnectTicket.Grant(credentials, redeemBy: self.context.now().addingTimeInterval(TimeInterval(seconds)))
        let encoded = try grant.encoded()
        // No bigger than the token it stands for may be: the broker holds up to 100,000 of them.
        guard encoded.count <= TokenVerifier.maximumTokenLength else {
            throw APIError(.invalidRequest, "the ticket's user, channels and info are over \(TokenVerifier.maximumTokenLength) bytes")
        }
        do {
            // The broker keeps it past the deadline by the verifier's leeway, so a late use reads "expired".
            try await self.context.broker.storeTicket(id, grant: encoded, ttl: seconds + Int(TokenVerifier.leeway))
        } catch {
            throw APIError(.unavailable, "cannot mint a ticket: \(error)")
        }
        self.context.metrics.ticketMinted()
        let body = try ServerMessageEncoder.encoder.encode(Minted(ticket: id, expires: seconds))
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
