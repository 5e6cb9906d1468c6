import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing

/// Connect tickets end to end: `POST /connection/ticket` exchanges a token (or an API key and a user) for a
/// credential that opens one WebSocket or SSE stream within seconds, and nothing after.
@Suite struct ConnectTicketEndToEndTests {
    /// A whole second, so a token minted now with ttl n expires exactly n seconds later on the server's clock.
    static let start = Date(timeIntervalSince1970: 1_900_000_000)

    @Test func aTicketOpensAWebSocketWithTheUserAndExpiryOfItsTokenAndTheTokenStillRefreshes() async throws {
        let clock = ManualClock(Self.start)
        try await TestNode.with(now: clock.now) { node in
            let response = try await node.ticketResponse(authorization: "Bearer \(try await node.token("alice", ttl: 600))")
            #expect(response.status == 200)
            #expect(response.header("Cache-Control") == "no-store")
            let minted = try JSONDecoder().decode(TestNode.Minted.self, from: Data(response.body.utf8))
            #expect(minted.expires == 10)
            #expect(minted.ticket.count == 43)

            let client = try await node.client(ticket: minted.ticket)
            let result = try await client.connect()
            #expect(result.user == "alice")
            #expect(result.expires == 600)
            // The connection is the token's: a fresh token of the same user refreshes it.
            guard case .refresh(let refreshed) = try await client.expectReply(.refresh(.init(token: try await node.token("alice", ttl: 900)))) else {
                throw EndToEndFailure("refresh answered with another result")
            }
            #expect(refreshed.expires == 900)
            await client.close()
        }
    }

    @Test func aTicketOpensOneConnectionAndASecondUseIsClosedWith4006() async throws {
        try await TestNode.with { node in
            let ticket = try await node.ticket(token: try await node.token("alice"))
            let first = try await node.client(ticket: ticket)
            #expect(try await first.connect().user == "alice")

            let second = try await node.client(ticket: ticket)
            let disconnect = try await second.nextPush(within: TestPatience.default, "the disconnect push") { push -> ServerMessage.Disconnect? in
                if case .disconnect(let disconnect) = push { return disconnect }
                return nil
            }
            #expect(disconnect.code == .ticketRefused)
            #expect(disconnect.reason.contains("already used"))
            // Reconnecting is right, with a new ticket.
            #expect(disconnect.reconnect)
            #expect(try await second.closed()?.code == CloseCode(4006))
            // The first connection is unaffected.
            #expect(try await first.subscribe("chat:lobby").offset == 0)
            await first.close()
            #expect(try await node.metric("switchboard_tickets_total", labels: #"outcome="minted""#) == 1)
            #expect(try await node.metric("switchboard_tickets_total", labels: #"outcome="redeemed""#) == 1)
            #expect(try await node.metric("switchboard_tickets_total", labels: #"outcome="refused""#) == 1)
        }
    }

    @Test func aTicketUsedAfterItsSecondsIsRefusedAsExpired() async throws {
        let clock = ManualClock(Self.start)
        try await TestNode.with({ $0.auth.ticketSeconds = 5 }, now: clock.now) { node in
            let ticket = try await node.ticket(token: try await node.token("alice"))
            // Past the ticket's 5 s and the verifier's 5 s of leeway for skewed clocks.
            clock.advance(by: 11)
            let client = try await node.client(ticket: ticket)
            guard case .disconnect(let disconnect) = try await client.nextPush() else {
                throw EndToEndFailure("expected a disconnect push, got \(client.received)")
            }
            #expect(disconnect.code == .ticketRefused)
            #expect(disconnect.reason.contains("expired"))
            #expect(try await client.closed()?.code == CloseCode(4006))
        }
    }

    @Test func anUnknownOrMalformedTicketIsClosedWith4006() async throws {
        try await TestNode.with { node in
            for ticket in [String(repeating: "A", count: 43), "not-a-ticket"] {
                let client = try await node.client(ticket: ticket)
                guard case .disconnect(let disconnect) = try await client.nextPush() else {
                    throw EndToEndFailure("expected a disconnect push for \(ticket), got \(client.received)")
                }
                #expect(disconnect.code == .ticketRefused)
                #expect(try await client.closed()?.code == CloseCode(4006))
            }
        }
    }

    @Test func aTicketOpensAnSSEStreamOnceAndASecondUseIsRefusedWith401() async throws {
        try await TestNode.with { node in
            let ticket = try await node.ticket(token: try await node.token("alice"))
            let stream = try await SSETestStream.open(port: node.port, target: "/connection/sse?ticket=\(ticket)&channel=chat:lobby")
            #expect(try await stream.status() == 200)
            guard case .reply(0, .connect(let connected))? = try await stream.nextEvent().message else {
                throw EndToEndFailure("the stream did not start with the connect reply")
            }
            #expect(connected.user == "alice")

            // Refused before the stream opens: an HTTP error, which EventSource does not retry.
            let again = try await SSETestStream.open(port: node.port, target: "/connection/sse?ticket=\(ticket)&channel=chat:lobby")
            #expect(try await again.status() == 401)
            #expect(try await again.errorBody().contains(#""code":114"#))
            await again.close()
            await stream.close()
        }
    }

    @Test func aBackEndMintsATicketForOneOfItsUsersWithItsAPIKey() async throws {
        let clock = ManualClock(Self.start)
        try await TestNode.with(now: clock.now) { node in
            let response = try await node.ticketResponse(authorization: "apikey \(TestNode.apiKey)",
                                                         body: #"{"user":"bob","expiresIn":120,"info":{"name":"Bob"}}"#)
            #expect(response.status == 200)
            let ticket = try JSONDecoder().decode(TestNode.Minted.self, from: Data(response.body.utf8)).ticket
            let client = try await node.client(ticket: ticket)
            let result = try await client.connect()
            #expect(result.user == "bob")
            #expect(result.expires == 120)
            await client.close()
        }
    }

    @Test func ticketRequestsWithoutAValidCredentialAreRefused() async throws {
        let clock = ManualClock(Self.start)
        try await TestNode.with(now: clock.now) { node in
            let missing = try await node.ticketResponse(authorization: nil)
            #expect(missing.status == 401)
            #expect(missing.body.contains(#""code":102"#))
            let forged = try await node.ticketResponse(authorization: "Bearer \(try await node.token("alice", secret: TestKeys.otherHMACSecret))")
            #expect(forged.status == 401)
            #expect(forged.body.contains(#""code":102"#))
            let expired = try await node.ticketResponse(authorization: "Bearer \(try await node.token("alice", ttl: 60, issuedAt: Self.start.addingTimeInterval(-3600)))")
            #expect(expired.status == 401)
            #expect(expired.body.contains(#""code":109"#))
            // An API key is not a token: back-ends mint at /api/ticket.
            let keyAsToken = try await node.ticketResponse(authorization: "Bearer \(TestNode.apiKey)")
            #expect(keyAsToken.status == 401)
            let noUser = try await node.ticketResponse(authorization: "apikey \(TestNode.apiKey)", body: #"{"expiresIn":60}"#)
            #expect(noUser.status == 400)
            #expect(noUser.body.contains("user"))
            let channels = (0..<2000).map { "\"chat:room-\($0)\"" }.joined(separator: ",")
            let oversized = try await node.ticketResponse(authorization: "apikey \(TestNode.apiKey)", body: #"{"user":"bob","channels":[\#(channels)]}"#)
            #expect(oversized.status == 400)
            #expect(oversized.body.contains("bytes"))
            let tooLong = try await node.ticketResponse(authorization: "apikey \(TestNode.apiKey)", body: #"{"user":"bob","expiresIn":0}"#)
            #expect(tooLong.status == 400)
            #expect(tooLong.body.contains("expiresIn"))
        }
    }

    @Test func aTokenAndATicketTogetherAreRefusedWith400() async throws {
        try await TestNode.with { node in
            let token = try await node.token("alice")
            let ticket = try await node.ticket(token: token)
            let peer = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await peer.upgrade("/connection/websocket?token=\(token)&ticket=\(ticket)") == 400)
            let stream = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&ticket=\(ticket)&channel=chat:lobby")
            #expect(try await stream.status() == 400)
            await stream.close()
        }
    }
}
