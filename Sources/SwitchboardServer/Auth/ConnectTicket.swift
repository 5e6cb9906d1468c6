import Foundation
import SwitchboardProtocol

/// A credential made to travel in a URL: an opaque random string that stands for ``Credentials`` for a few
/// seconds and opens one connection. URLs end up in access logs, proxy logs and browser history; a ticket
/// found there has already been spent or has expired.
///
/// `POST /connection/ticket` mints one (``TicketRoute``); `?ticket=` on the WebSocket upgrade or the SSE
/// stream redeems it. Single use holds across nodes because the broker redeems (``Broker/redeemTicket(_:)``).
enum ConnectTicket {
    /// 32 random bytes, base64url: 43 characters, 256 bits that cannot be guessed.
    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Base64URL.encode(bytes)
    }

    /// What a ticket id can look like: anything else is refused before the broker is asked.
    static func isWellFormed(_ id: String) -> Bool {
        id.utf8.count == 43 && Base64URL.decode(id) != nil
    }

    /// What the broker keeps under a ticket: the credentials it opens, and until when (Unix seconds, the
    /// minting node's clock) it may be redeemed. The broker's own expiry is a little later, so a node tells
    /// "expired" from "unknown" in the usual case.
    struct Grant: Codable, Sendable, Hashable {
        var user: String
        /// The connection's expiry: the `exp` of the token behind the ticket.
        var exp: Double
        var channels: [String]
        var info: [String: JSONValue]?
        /// The ticket's own expiry.
        var redeemBy: Double

        init(_ credentials: Credentials, redeemBy: Date) {
            self.user = credentials.user
            self.exp = credentials.expiresAt.timeIntervalSince1970
            self.channels = credentials.channels
            self.info = credentials.info
            self.redeemBy = redeemBy.timeIntervalSince1970
        }

        var credentials: Credentials {
            Credentials(user: self.user, expiresAt: Date(timeIntervalSince1970: self.exp), channels: self.channels, info: self.info)
        }

        func encoded() throws -> [UInt8] {
            Array(try JSONEncoder().encode(self))
        }

        static func decode(_ bytes: [UInt8]) throws -> Grant {
            try JSONDecoder().decode(Grant.self, from: Data(bytes))
        }
    }

    /// Turns what the broker answered into the ticket's credentials at `now`, or the refusal.
    static func credentials(from redemption: TicketRedemption, now: Date) -> Result<Credentials, TicketRefusal> {
        switch redemption {
        case .alreadyUsed:
            return .failure(TicketRefusal("the ticket was already used: fetch a new one for every connection"))
        case .unknown:
            return .failure(TicketRefusal("unknown or expired ticket"))
        case .granted(let bytes):
            guard let grant = try? Grant.decode(bytes) else {
                return .failure(TicketRefusal("the ticket's record is unreadable"))
            }
            guard now.timeIntervalSince1970 <= grant.redeemBy + TokenVerifier.leeway else {
                return .failure(TicketRefusal("the ticket expired: use it within seconds of fetching it"))
            }
            return .success(grant.credentials)
        }
    }
}

/// Why a ticket opened nothing. The message is safe to send to the client and to log: it never quotes the
/// ticket.
struct TicketRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { self.message }
}

extension ServerContext {
    /// Redeems `ticket` through the broker: the credentials behind it, or a ``TicketRefusal`` (unknown,
    /// expired, already used, not a ticket), or the broker's error when it could not be asked.
    func redeemTicket(_ ticket: String) async throws -> Credentials {
        guard ConnectTicket.isWellFormed(ticket) else {
            self.metrics.ticketRedeemed(false)
            throw TicketRefusal("not a ticket: fetch one from POST \(TicketRoute.path)")
        }
        let redemption = try await self.broker.redeemTicket(ticket)
        switch ConnectTicket.credentials(from: redemption, now: self.now()) {
        case .success(let credentials):
            self.metrics.ticketRedeemed(true)
            return credentials
        case .failure(let refusal):
            self.metrics.ticketRedeemed(false)
            throw refusal
        }
    }
}
