import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing
@testable import SwitchboardServer

/// permessage-deflate on a node: negotiated with every message compressed alone, and a channel whose
/// subscribers mix it with plain connections and both encodings delivers every publication to each of
/// them once and in order.
@Suite struct CompressionEndToEndTests {
    static func compressing(_ configuration: inout ServerConfiguration) {
        configuration.compression = CompressionConfiguration(enabled: true, threshold: 64)
    }

    @Test(arguments: TestTransport.all)
    func aMixedChannelDeliversEveryPublicationToEachSubscriberOnceInOrder(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, Self.compressing) { node in
            let clients = [
                try await node.connectedClient("alice", compression: true),
                try await node.connectedClient("bob"),
                try await node.connectedClient("carol", encoding: .protobuf, compression: true),
                try await node.connectedClient("dave", encoding: .protobuf),
            ]
            #expect(clients.map { $0.connection.deflate != nil } == [true, false, true, false])
            #expect(clients.compactMap(\.connection.deflate).allSatisfy { $0.serverNoContextTakeover && $0.clientNoContextTakeover })
            #expect(try await node.metric("switchboard_compressed_connections") == 2)
            let start = try await clients[0].subscribe("chat:mixed").offset
            for client in clients.dropFirst() { _ = try await client.subscribe("chat:mixed") }
            // Above the threshold and below it, from every kind of connection.
            let data = (0..<24).map { index -> RawJSON in
                RawJSON(.string(index.isMultiple(of: 3) ? "short \(index)" : String(repeating: "notification \(index) ", count: 40)))
            }
            for (index, value) in data.enumerated() {
                _ = try await clients[index % clients.count].expectReply(.publish(.init(channel: "chat:mixed", data: value)))
            }
            for client in clients {
                let received = try await client.publications(data.count, in: "chat:mixed")
                #expect(received.map(\.offset) == Array(start + 1...start + UInt64(data.count)))
                #expect(received.map(\.data) == data)
                #expect(client.undecodable.isEmpty, "\(client.undecodable)")
            }
            for client in clients { await client.close() }
            #expect(try await eventually { try await node.metric("switchboard_compressed_connections") == 0 })
        }
    }

    /// Off by default: an offer gets no agreement, and everything goes out plain.
    @Test func aNodeWithoutCompressionDeclinesTheOffer() async throws {
        try await TestNode.with { node in
            let client = try await node.connectedClient("alice", compression: true)
            #expect(client.connection.deflate == nil)
            #expect(try await client.expectReply(.ping) == .ping)
            await client.close()
        }
    }

    @Test func theConfigurationIsReadAndCheckedFromJSON() throws {
        let decoded = try JSONDecoder().decode(ServerConfiguration.self, from: Data(#"{"compression": {"enabled": true, "threshold": 512, "level": 1}}"#.utf8))
        #expect(decoded.compression == CompressionConfiguration(enabled: true, threshold: 512, level: 1))
        #expect(try JSONDecoder().decode(ServerConfiguration.self, from: Data("{}".utf8)).compression == CompressionConfiguration())
        for bad in [#"{"compression": {"level": 0}}"#, #"{"compression": {"level": 10}}"#, #"{"compression": {"threshold": -1}}"#] {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(ServerConfiguration.self, from: Data(bad.utf8)) }
        }
    }
}
