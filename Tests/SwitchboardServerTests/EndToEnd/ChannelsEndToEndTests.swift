import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing

/// Channel permissions, publishing from clients and from the back-end API, presence and join/leave events,
/// end to end with the default namespaces (`chat`: subscribers publish, presence, join/leave; `user`:
/// personal; the default namespace: nobody publishes from a client).
@Suite struct ChannelsEndToEndTests {
    @Test(arguments: TestTransport.all) func aPersonalChannelIsRefusedWith103ToOthersAndAllowedToItsOwner(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let alice = try await node.connectedClient("alice")
            let bob = try await node.connectedClient("bob")
            #expect(try await alice.expectError(.subscribe(.init(channel: "user:bob"))).code == .permissionDenied)
            _ = try await bob.subscribe("user:bob")
            // The back-end notifies bob; alice, refused, gets nothing.
            let published = try await node.publish(["note": "for bob"], to: "user:bob")
            let publication = try #require(try await bob.publications(1, in: "user:bob").first)
            #expect(publication.offset == published.offset)
            #expect(publication.data == ["note": "for bob"])
            #expect(!alice.receivedPushes.contains { if case .publication = $0 { true } else { false } })
            await alice.close()
            await bob.close()
        }
    }

    @Test(arguments: TestTransport.all) func clientsCannotPublishInANamespaceWherePublishIsNobody(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let alice = try await node.connectedClient("alice")
            _ = try await alice.subscribe("announcements")
            #expect(try await alice.expectError(.publish(.init(channel: "announcements", data: "hi"))).code == .notAvailable)
            #expect(try await alice.expectError(.publish(.init(channel: "user:alice", data: "hi"))).code == .notAvailable)
            // Publishing in chat needs a subscription first.
            #expect(try await alice.expectError(.publish(.init(channel: "chat:lobby", data: "hi"))).code == .notSubscribed)
            await alice.close()
        }
    }

    @Test(arguments: TestTransport.all) func aPublicationThroughTheHTTPAPIReachesEveryWebSocketSubscriber(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let alice = try await node.connectedClient("alice")
            let bob = try await node.connectedClient("bob")
            let subscribed = try await alice.subscribe("chat:lobby")
            _ = try await bob.subscribe("chat:lobby")
            let response = try await node.api("/api/publish", json: #"{"channel":"chat:lobby","data":{"text":"from the back-end"}}"#)
            #expect(response.status == 200)
            let result = try JSONDecoder().decode(ServerMessage.PublishResult.self, from: Data(response.body.utf8))
            #expect(result.epoch == subscribed.epoch)
            #expect(result.offset == subscribed.offset + 1)
            for client in [alice, bob] {
                let publication = try #require(try await client.publications(1, in: "chat:lobby").first)
                #expect(publication == Publication(channel: "chat:lobby", offset: result.offset, epoch: result.epoch,
                                                   data: ["text": "from the back-end"], info: nil))
            }
            await alice.close()
            await bob.close()
        }
    }

    @Test(arguments: TestTransport.all) func aBroadcastReachesTheSubscribersOfEachChannel(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let alice = try await node.connectedClient("alice")
            let bob = try await node.connectedClient("bob")
            _ = try await alice.subscribe("chat:one")
            _ = try await bob.subscribe("chat:two")
            let response = try await node.api("/api/broadcast", json: #"{"channels":["chat:one","chat:two","nowhere:x"],"data":"to all"}"#)
            #expect(response.status == 200)
            #expect(response.body.contains("\"chat:one\"") && response.body.contains("\"chat:two\""))
            // The unconfigured namespace fails alone, with its error in the results.
            #expect(response.body.contains("104"), "\(response.body)")
            #expect(try await alice.publications(1, in: "chat:one").first?.data == "to all")
            #expect(try await bob.publications(1, in: "chat:two").first?.data == "to all")
            await alice.close()
            await bob.close()
        }
    }

    @Test(arguments: TestTransport.all) func theHTTPAPIRefusesARequestWithoutAValidKeyWith401(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let body = #"{"channel":"chat:lobby","data":1}"#
            let missing = try await node.http("POST", "/api/publish", headers: [("Content-Type", "application/json")], body: body)
            #expect(missing.status == 401)
            let wrong = try await node.http("POST", "/api/publish", headers: [("Authorization", "apikey not-the-key")], body: body)
            #expect(wrong.status == 401)
            // A client token is not an API key.
            let token = try await node.token("alice")
            let bearer = try await node.http("POST", "/api/publish", headers: [("Authorization", "Bearer \(token)")], body: body)
            #expect(bearer.status == 401)
            // Nothing was published.
            let history = try await node.api("/api/history", json: #"{"channel":"chat:lobby"}"#)
            #expect(history.status == 200)
            let result = try JSONDecoder().decode(ServerMessage.HistoryResult.self, from: Data(history.body.utf8))
            #expect(result.publications.isEmpty)
        }
    }

    @Test(arguments: TestTransport.all) func theHTTPAPIDisconnectsEveryConnectionOfOneUserWith4501(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let alice = try await node.connectedClient("alice")
            let aliceAgain = try await node.connectedClient("alice")
            let bob = try await node.connectedClient("bob")
            let response = try await node.api("/api/disconnect", json: #"{"user":"alice","reason":"banned"}"#)
            #expect(response.status == 200)
            #expect(response.body.contains("\"disconnected\":2"), "\(response.body)")
            for client in [alice, aliceAgain] {
                #expect(try await client.closed()?.code == CloseCode(4501))
                guard case .disconnect(let disconnect)? = client.receivedPushes.last else {
                    throw EndToEndFailure("expected a disconnect push before the close, got \(client.received)")
                }
                #expect(disconnect == .init(code: .forced, reason: "banned"))
                #expect(!disconnect.reconnect)
            }
            #expect(try await bob.expectReply(.ping) == .ping)
            await bob.close()
        }
    }

    @Test(arguments: TestTransport.all) func presenceListsEverySubscribedClient(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let alice = try await node.connectedClient("alice")
            let bob = try await node.connectedClient("bob")
            _ = try await alice.subscribe("chat:room")
            _ = try await bob.subscribe("chat:room")
            // Presence entries are written just after the subscribe reply: ask until both are in.
            var users: [String] = []
            let both = try await eventually {
                guard case .presence(let result) = try await alice.expectReply(.presence(.init(channel: "chat:room"))) else {
                    throw EndToEndFailure("presence answered with another result")
                }
                users = result.clients.map(\.user).sorted()
                return users == ["alice", "bob"]
            }
            #expect(both, "presence: \(users)")
            // The HTTP API sees the same.
            let response = try await node.api("/api/presence", json: #"{"channel":"chat:room"}"#)
            let viaAPI = try JSONDecoder().decode(ServerMessage.PresenceResult.self, from: Data(response.body.utf8))
            #expect(viaAPI.clients.map(\.user).sorted() == ["alice", "bob"])
            // Presence is off in the default namespace.
            #expect(try await alice.expectError(.presence(.init(channel: "announcements"))).code == .notAvailable)
            await alice.close()
            await bob.close()
        }
    }

    @Test(arguments: TestTransport.all) func subscribersOfChatSeeOthersJoinAndLeave(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let alice = try await node.connectedClient("alice")
            _ = try await alice.subscribe("chat:room")
            let bob = try await node.client(token: try await node.token("bob"))
            let bobID = try await bob.connect().client
            _ = try await bob.subscribe("chat:room")
            let joined = try await alice.nextPush(within: TestPatience.default, "bob's join") { push -> ServerMessage.PresenceEvent? in
                if case .join(let event) = push, event.info.user == "bob" { return event }
                return nil
            }
            #expect(joined.channel == "chat:room")
            #expect(joined.info.client == bobID)
            _ = try await bob.expectReply(.unsubscribe(.init(channel: "chat:room")))
            let left = try await alice.nextPush(within: TestPatience.default, "bob's leave") { push -> ServerMessage.PresenceEvent? in
                if case .leave(let event) = push, event.info.user == "bob" { return event }
                return nil
            }
            #expect(left.info.client == bobID)
            // Closing the connection is a leave too.
            _ = try await bob.subscribe("chat:room")
            await bob.close()
            let gone = try await alice.nextPush(within: TestPatience.default, "bob's leave on close") { push -> ServerMessage.PresenceEvent? in
                if case .leave(let event) = push, event.info.user == "bob" { return event }
                return nil
            }
            #expect(gone.info.client == bobID)
            await alice.close()
        }
    }

    @Test(arguments: TestTransport.all) func subscriptionsOfConnectionsThatCloseAreReleasedEvenMidSubscribe(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let token = try await node.token("alice")
            for index in 0..<30 {
                let client = try await node.client(token: token)
                try await client.send(.subscribe(.init(channel: "chat:churn")))
                // Some leave at once, some once subscribed (their own join arrived), some mid-subscribe.
                if index % 3 == 0 {
                    try await client.send(.unsubscribe(.init(channel: "chat:churn")))
                } else if index % 3 == 1 {
                    _ = try await client.nextPush(within: TestPatience.default, "the join") { if case .join = $0 { true } else { nil } }
                }
                await client.close()
            }
            let released = try await node.eventually { $0.subscriptions == 0 && $0.channels == 0 && $0.connections == 0 }
            let info = try await node.info()
            #expect(released, "still counted: \(info)")
            // And the channel works afterwards.
            let alice = try await node.connectedClient("alice")
            _ = try await alice.subscribe("chat:churn")
            try await node.publish("after the churn", to: "chat:churn")
            #expect(try await alice.publications(1, in: "chat:churn").first?.data == "after the churn")
            await alice.close()
        }
    }
}
