import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing

/// Bad input over a real WebSocket: each mistake gets its error code, and the connection (or, when the
/// mistake is fatal, every other connection) keeps being served.
@Suite struct ProtocolBasicsEndToEndTests {
    @Test(arguments: TestTransport.all) func malformedJSONGetsError100AndTheConnectionStaysUsable(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice")
            try await client.sendText("{\"type\": \"ping\", \"id\": ")
            guard case .error(let id, let error) = try await client.nextPush() else {
                throw EndToEndFailure("expected an error push, got \(client.receivedPushes)")
            }
            #expect(id == nil)
            #expect(error.code == .badRequest)
            #expect(try await client.expectReply(.ping) == .ping)
            #expect(client.isOpen)
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func anUnknownCommandTypeGetsError101CarryingItsID(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice")
            try await client.sendText(#"{"type":"teleport","id":42,"to":"mars"}"#)
            guard case .error(let id, let error) = try await client.reply(to: 42) else {
                throw EndToEndFailure("expected an error for command 42")
            }
            #expect(id == 42)
            #expect(error.code == .unknownCommand)
            #expect(try await client.expectReply(.ping) == .ping)
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func aCommandBeforeConnectGetsError110(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.client()
            #expect(try await client.expectError(.subscribe(.init(channel: "chat:lobby"))).code == .notConnected)
            #expect(try await client.expectError(.publish(.init(channel: "chat:lobby", data: "hi"))).code == .notConnected)
            // Still open: connecting now works.
            #expect(try await client.connect(token: try await node.token("alice")).user == "alice")
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func aMessageOverTheSizeLimitClosesThatConnectionWith1009AndOnlyThatOne(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, { $0.limits.maxMessageSize = 1024 }) { node in
            let offender = try await node.connectedClient("mallory")
            let bystander = try await node.connectedClient("alice")
            _ = try await bystander.subscribe("chat:lobby")
            let padding = String(repeating: "x", count: 2000)
            try await offender.sendText(#"{"type":"publish","id":1,"channel":"chat:lobby","data":"\#(padding)"}"#)
            let status = try #require(try await offender.closed())
            #expect(status.code == .messageTooBig)
            // A message just under the limit is fine for the other client.
            let reply = try await bystander.expectReply(.publish(.init(channel: "chat:lobby", data: .string(String(repeating: "y", count: 900)))))
            guard case .publish = reply else { throw EndToEndFailure("publish answered \(reply)") }
            let publication = try #require(try await bystander.publications(1, in: "chat:lobby").first)
            #expect(publication.data == .string(String(repeating: "y", count: 900)))
            await bystander.close()
        }
    }

    @Test(arguments: TestTransport.all) func aBinaryMessageGetsError100AndTheConnectionStays(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice")
            let other = try await node.connectedClient("bob")
            try await client.sendBinary(Array(#"{"type":"ping","id":7}"#.utf8))
            guard case .error(let id, let error) = try await client.nextPush() else {
                throw EndToEndFailure("expected an error push, got \(client.receivedPushes)")
            }
            #expect(id == nil)
            #expect(error.code == .badRequest)
            #expect(try await client.expectReply(.ping) == .ping)
            #expect(try await other.expectReply(.ping) == .ping)
            await client.close()
            await other.close()
        }
    }

    @Test(arguments: TestTransport.all) func everyMessageTheServerSendsIsAValidServerMessage(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice")
            _ = try await client.subscribe("chat:lobby")
            _ = try await client.expectReply(.publish(.init(channel: "chat:lobby", data: ["text": "hello"])))
            _ = try await client.publications(1, in: "chat:lobby")
            try await client.sendText("[]")
            _ = try await client.nextPush(within: TestPatience.default, "the error for []") { push in
                if case .error(nil, let error) = push, error.code == .badRequest { return true }
                return nil
            }
            #expect(client.undecodable.isEmpty, "undecodable: \(client.undecodable)")
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func commandsSentWithoutWaitingAreAnsweredInTheOrderTheyWereSent(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice")
            var ids: [UInt64] = []
            for index in 0..<30 {
                switch index % 3 {
                case 0: ids.append(try await client.send(.subscribe(.init(channel: "feed:order\(index)"))))
                case 1: ids.append(try await client.send(.history(.init(channel: "feed:order\(index - 1)"))))
                default: ids.append(try await client.send(.ping))
                }
            }
            _ = try await client.reply(to: ids.last!)
            // Command 1 was the connect.
            let answered = client.received.compactMap { message -> UInt64? in
                switch message {
                case .reply(let id, _), .error(let id?, _): id
                default: nil
                }
            }.filter { $0 != 1 }
            #expect(answered == ids)
            #expect(!client.received.contains { if case .error = $0 { true } else { false } }, "\(client.received.filter { if case .error = $0 { true } else { false } })")
            await client.close()
        }
    }
}
