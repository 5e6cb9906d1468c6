import SwitchboardProtocol
import SwitchboardTestSupport
import Testing

/// The `switchboard.v1.protobuf` subprotocol against a node over real sockets: negotiated at the handshake,
/// the whole protocol in binary messages, and a channel whose subscribers speak both encodings.
@Suite struct ProtobufEndToEndTests {
    @Test(arguments: TestTransport.all) func aClientOfferingProtobufSpeaksTheProtocolInBinaryMessages(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice", encoding: .protobuf)
            #expect(client.connection.subprotocol == WireEncoding.protobuf.subprotocol)
            let subscribed = try await client.subscribe("chat:lobby")
            guard case .publish(let published) = try await client.expectReply(.publish(.init(channel: "chat:lobby", data: ["text": "hi", "n": 9_007_199_254_740_993]))) else {
                throw EndToEndFailure("publish answered with another reply")
            }
            #expect(published.offset == subscribed.offset + 1)
            let publication = try #require(try await client.publications(1, in: "chat:lobby").first)
            #expect(publication.data == ["text": "hi", "n": 9_007_199_254_740_993])
            guard case .history(let history) = try await client.expectReply(.history(.init(channel: "chat:lobby"))) else {
                throw EndToEndFailure("history answered with another reply")
            }
            #expect(history.publications == [publication])
            #expect(try await client.expectReply(.ping) == .ping)
            guard case .error(_, let error) = try await client.request(.unsubscribe(.init(channel: "news"))) else {
                throw EndToEndFailure("unsubscribing from a channel never joined succeeded")
            }
            #expect(error.code == .notSubscribed)
            #expect(client.undecodable.isEmpty, "\(client.undecodable)")
            await client.close()
        }
    }

    /// JSON and protobuf subscribers of one channel, publishing in turn: each gets every publication once,
    /// in order, with the same data.
    @Test(arguments: TestTransport.all) func aMixedChannelDeliversEveryPublicationToEachSubscriberOnceInOrder(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let binary = try await node.connectedClient("alice", encoding: .protobuf)
            let text = try await node.connectedClient("bob")
            let start = try await binary.subscribe("chat:mixed").offset
            _ = try await text.subscribe("chat:mixed")
            for index in 0..<20 {
                let publisher = index.isMultiple(of: 2) ? binary : text
                _ = try await publisher.expectReply(.publish(.init(channel: "chat:mixed", data: .integer(Int64(index)))))
            }
            for client in [binary, text] {
                let received = try await client.publications(20, in: "chat:mixed")
                #expect(received.map(\.offset) == Array(start + 1...start + 20))
                #expect(received.map(\.data) == (0..<20).map { .integer(Int64($0)) })
                #expect(client.undecodable.isEmpty, "\(client.undecodable)")
            }
            await binary.close()
            await text.close()
        }
    }

    @Test(arguments: TestTransport.all) func aTextMessageOnAProtobufConnectionGetsError100AndTheConnectionStays(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice", encoding: .protobuf)
            try await client.sendText(#"{"type":"ping","id":7}"#)
            guard case .error(nil, let error) = try await client.nextPush() else {
                throw EndToEndFailure("expected an error push, got \(client.receivedPushes)")
            }
            #expect(error.code == .badRequest)
            #expect(error.message.contains(WireEncoding.protobuf.subprotocol))
            #expect(try await client.expectReply(.ping) == .ping)
            await client.close()
        }
    }

    /// A client that names the JSON subprotocol gets it back; one that names none gets JSON without a name.
    @Test func theJSONSubprotocolIsTheDefaultAndAnsweredWhenOffered() async throws {
        try await TestNode.with { node in
            let named = try await node.connectedClient("alice", encoding: .json)
            #expect(named.connection.subprotocol == WireEncoding.json.subprotocol)
            let unnamed = try await node.connectedClient("bob")
            #expect(unnamed.connection.subprotocol == nil)
            #expect(try await unnamed.expectReply(.ping) == .ping)
            await named.close()
            await unnamed.close()
        }
    }
}
