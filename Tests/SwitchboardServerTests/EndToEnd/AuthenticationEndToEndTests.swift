import Foundation
import SwitchboardProtocol
import SwitchboardServer
import SwitchboardTestSupport
import SwitchboardWebSocket
import SwitchboardWebSocketNIO
import Testing

/// Tokens, anonymous clients and Origin checks, end to end: what a client is told, and when the server
/// closes the connection instead.
@Suite struct AuthenticationEndToEndTests {
    /// A whole second, so a token minted now with ttl n expires exactly n seconds later on the server's clock.
    static let start = Date(timeIntervalSince1970: 1_900_000_000)

    @Test func connectWithoutATokenIsRefusedWith102WhenAnonymousClientsAreNotAllowed() async throws {
        try await TestNode.with { node in
            let client = try await node.client()
            #expect(try await client.expectError(.connect(.init())).code == .unauthorized)
            // Refused, not closed: the client may fetch a token and try again.
            #expect(try await client.connect(token: try await node.token("alice")).user == "alice")
            await client.close()
        }
    }

    @Test func aClientThatNeverConnectsIsClosedWith4500AfterTheConnectTimeout() async throws {
        try await TestNode.with({ $0.limits.connectTimeout = 1 }) { node in
            // Measured from before the connect: the server's timer cannot start earlier than that.
            let started = ContinuousClock.now
            let client = try await node.client()
            let status = try #require(try await client.closed(within: TestPatience.default))
            #expect(status.code == CloseCode(4500))
            #expect(ContinuousClock.now - started >= .seconds(1))
            guard case .disconnect(let disconnect)? = client.receivedPushes.last else {
                throw EndToEndFailure("expected a disconnect push before the close, got \(client.received)")
            }
            #expect(disconnect.code == .unauthorized)
        }
    }

    @Test func aTokenSignedWithAnotherSecretIsRefusedWith102() async throws {
        try await TestNode.with { node in
            let forged = try await node.token("alice", secret: TestKeys.otherHMACSecret)
            let client = try await node.client()
            #expect(try await client.expectError(.connect(.init(token: forged))).code == .unauthorized)
            #expect(try await client.expectError(.subscribe(.init(channel: "chat:lobby"))).code == .notConnected)
            await client.close()

            // In the URL the connection is closed with 4500 (do not reconnect with that token).
            let inURL = try await node.client(token: forged)
            let disconnect = try await inURL.nextPush(within: TestPatience.default, "the disconnect push") { push -> ServerMessage.Disconnect? in
                if case .disconnect(let disconnect) = push { return disconnect }
                return nil
            }
            #expect(disconnect.code == .unauthorized)
            #expect(!disconnect.reconnect)
            #expect(try await inURL.closed()?.code == CloseCode(4500))
        }
    }

    @Test func anExpiredTokenInTheURLGetsADisconnectPushThenClose4003() async throws {
        try await TestNode.with { node in
            let expired = try await node.token("alice", ttl: 60, issuedAt: Date().addingTimeInterval(-3600))
            let client = try await node.client(token: expired)
            guard case .disconnect(let disconnect) = try await client.nextPush() else {
                throw EndToEndFailure("expected a disconnect push first, got \(client.received)")
            }
            #expect(disconnect.code == .tokenExpired)
            #expect(disconnect.reconnect)
            #expect(try await client.closed()?.code == CloseCode(4003))
        }
    }

    @Test func aValidTokenInTheURLThenConnectWithoutATokenRepliesWithTheUser() async throws {
        try await TestNode.with { node in
            let client = try await node.client(token: try await node.token("alice", ttl: 600))
            let result = try await client.connect()
            #expect(result.user == "alice")
            #expect(!result.client.isEmpty)
            #expect((590...600).contains(result.expires ?? -1), "expires: \(String(describing: result.expires))")
            // A second connect with a token is a mistake.
            #expect(try await client.expectError(.connect(.init(token: try await node.token("alice")))).code == .alreadyConnected)
            await client.close()
        }
    }

    @Test func anAnonymousClientConnectsAsTheEmptyUserWhenAllowed() async throws {
        try await TestNode.with({ $0.auth.allowAnonymous = true }) { node in
            let client = try await node.client()
            let result = try await client.connect()
            #expect(result.user == "")
            #expect(result.expires == nil)
            // Namespaces still decide: chat needs a token.
            #expect(try await client.expectError(.subscribe(.init(channel: "chat:lobby"))).code == .unauthorized)
            await client.close()
        }
    }

    @Test func aForeignOriginIsRefusedWith403BeforeTheUpgradeAndAnAllowedOneUpgrades() async throws {
        try await TestNode.with({ $0.allowedOrigins = ["https://app.example.com"] }) { node in
            let token = try await node.token("alice")
            let foreign = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await foreign.upgrade("/connection/websocket?token=\(token)", headers: [("Origin", "https://evil.example.com")]) == 403)
            await foreign.close()

            let allowed = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await allowed.upgrade("/connection/websocket?token=\(token)", headers: [("Origin", "https://app.example.com")]) == 101)
            await allowed.close()

            // The same through the WebSocket client library.
            let client = try await node.client(token: token, origin: "https://app.example.com")
            #expect(try await client.connect().user == "alice")
            await client.close()
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await node.client(token: token, origin: "https://evil.example.com")
            }
        }
    }

    /// The times themselves (not before expiry, not before the end of the grace) are checked on a test
    /// clock in ``SessionTimerTests``; here, what goes over the wire, and lower bounds only.
    @Test func aTokenExpiringWhileConnectedGetsError109WithoutIDThenClose4003() async throws {
        let clock = ManualClock(Self.start)
        try await TestNode.with({ $0.limits.tokenRefreshGrace = 1 }, now: clock.now) { node in
            // Measured from before the connection: the expiry timer cannot start earlier than that.
            let started = ContinuousClock.now
            // The token goes in `connect`, not the URL: the reply is then written in the same turn as the
            // expiry timer is armed, so it comes first however late the client sends the command. (From
            // the URL, the timer starts at the upgrade, and a loaded machine that delays the client's
            // `connect` by the token's whole second saw the connection end before its reply.)
            let client = try await node.client()
            #expect(try await client.connect(token: try await node.token("alice", ttl: 1)).expires == 1)
            guard case .error(let id, let error) = try await client.nextPush(within: TestPatience.default) else {
                throw EndToEndFailure("expected error 109 first, got \(client.received)")
            }
            #expect(id == nil)
            #expect(error.code == .tokenExpired)
            guard case .disconnect(let disconnect) = try await client.nextPush(within: TestPatience.default) else {
                throw EndToEndFailure("expected a disconnect push after the grace period, got \(client.received)")
            }
            #expect(disconnect.code == .tokenExpired)
            #expect(try await client.closed()?.code == CloseCode(4003))
            // Not before 1 s to expiry and 1 s of grace.
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(1900), "closed after \(elapsed)")
        }
    }

    /// The wire side of a refresh after error 109. That the session then outlives the grace period (and
    /// expires with the new token) is checked on a test clock in ``SessionTimerTests``: here a grace no loaded
    /// machine can miss, so the refresh always arrives within it.
    @Test func refreshingTheTokenAfterError109IsAcceptedAndTheConnectionServed() async throws {
        let clock = ManualClock(Self.start)
        try await TestNode.with({ $0.limits.tokenRefreshGrace = 600 }, now: clock.now) { node in
            let client = try await node.client(token: try await node.token("alice", ttl: 1))
            _ = try await client.connect()
            guard case .error(nil, let error) = try await client.nextPush(within: TestPatience.default), error.code == .tokenExpired else {
                throw EndToEndFailure("expected error 109 without id, got \(client.received)")
            }
            // Another user's token does not refresh this connection.
            #expect(try await client.expectError(.refresh(.init(token: try await node.token("mallory")))).code == .permissionDenied)
            let reply = try await client.expectReply(.refresh(.init(token: try await node.token("alice", ttl: 600))))
            #expect(reply == .refresh(.init(expires: 600)))
            #expect(client.isOpen)
            #expect(try await client.expectReply(.ping) == .ping)
            #expect(!client.receivedPushes.contains { if case .disconnect = $0 { true } else { false } })
            await client.close()
        }
    }

    @Test func aRefreshedTokenThatNoLongerGrantsAChannelEndsThatSubscription() async throws {
        try await TestNode.with({ $0.namespaces["secret"] = NamespaceOptions(subscribe: .token, publish: .nobody) }) { node in
            let client = try await node.client(token: try await node.token("alice", channels: ["secret:a", "secret:b"]))
            _ = try await client.connect()
            _ = try await client.subscribe("secret:a")
            _ = try await client.subscribe("secret:b")
            _ = try await client.expectReply(.refresh(.init(token: try await node.token("alice", channels: ["secret:b"]))))
            let ended = try await client.nextPush(within: TestPatience.default, "the unsubscribed push") { push -> ServerMessage.Unsubscribed? in
                if case .unsubscribed(let unsubscribed) = push { return unsubscribed }
                return nil
            }
            #expect(ended.channel == "secret:a")
            // secret:a no longer delivers; secret:b still does.
            try await node.publish("not for you", to: "secret:a")
            try await node.publish("still yours", to: "secret:b")
            let publication = try #require(try await client.publications(1, in: "secret:b").first)
            #expect(publication.data == "still yours")
            #expect(!client.receivedPushes.contains { if case .publication(let p) = $0 { p.channel == "secret:a" } else { false } })
            #expect(try await client.expectError(.subscribe(.init(channel: "secret:a"))).code == .permissionDenied)
            await client.close()
        }
    }
}
