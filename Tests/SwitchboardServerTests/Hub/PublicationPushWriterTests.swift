import Foundation
import NIOCore
import SwitchboardProtocol
import Testing
@testable import SwitchboardServer
@testable import SwitchboardWebSocketNIO

/// The publication push written around the data's bytes is the protocol encoder's text, byte for byte, and
/// its frame is the one `WebSocketPreparedMessage` would have built from a copy.
@Suite struct PublicationPushWriterTests {
    static let publications: [Publication] = [
        Publication(channel: "chat:lobby", offset: 1, epoch: "x7Gk", data: ["text": "hi"]),
        Publication(channel: "chat:lobby", offset: UInt64.max, epoch: "e", data: 9_007_199_254_740_993,
                    info: ClientInfo(user: "alice", client: "c-1", info: ["role": "admin", "path": "a/b"])),
        Publication(channel: "feed:\"quoted\"\\back/slash\n\t\u{1}é🎉", offset: 42, epoch: "ep\u{7}",
                    data: ["nested": [1, 2.5, nil, true, ["deep": "x"]]], info: ClientInfo(user: "", client: "c")),
        Publication(channel: "feed:big", offset: 7, epoch: "e", data: .string(String(repeating: "a", count: 200))),
        Publication(channel: "feed:huge", offset: 8, epoch: "e", data: .string(String(repeating: "b", count: 70_000))),
    ]

    @Test(arguments: Self.publications)
    func theWrittenPushIsTheEncodersTextAndFrame(_ publication: Publication) throws {
        let expected = ServerMessageEncoder.encode(.publication(publication))
        let push = EncodedPush(publication: publication)
        #expect(String(buffer: push.json) == String(buffer: expected))
        #expect(push.frame.frame == WebSocketPreparedMessage(WebSocketMessage(kind: .text, data: expected)).frame)
        #expect(try JSONDecoder().decode(ServerMessage.self, from: Data(push.json.readableBytesView)) == .publication(publication))
    }

    static let replies: [ServerMessage] = [
        .reply(id: 3, .subscribe(.init(epoch: "e\"1", offset: 9, recovered: true, publications: Array(Self.publications.prefix(3))))),
        .reply(id: 4, .subscribe(.init(epoch: "e", offset: 9, recovered: nil, publications: [Self.publications[0]]))),
        .reply(id: UInt64.max, .history(.init(epoch: "e", offset: 8, publications: Self.publications))),
        .reply(id: 5, .history(.init(epoch: "e", offset: 0, publications: []))),
    ]

    /// Replies that recover publications splice their data too, into the encoder's text.
    @Test(arguments: Self.replies)
    func aReplyWithPublicationsIsTheEncodersText(_ message: ServerMessage) throws {
        let written = try #require(PublicationPushWriter.writeReply(message))
        let reference = try ServerMessageEncoder.encoder.encode(message)
        #expect(String(buffer: written) == String(decoding: reference, as: UTF8.self))
        #expect(String(buffer: ServerMessageEncoder.encode(message)) == String(buffer: written))
    }

    @Test func otherMessagesAreLeftToTheEncoder() {
        #expect(PublicationPushWriter.writeReply(.reply(id: 1, .subscribe(.init(epoch: "e", offset: 1)))) == nil)
        #expect(PublicationPushWriter.writeReply(.reply(id: 1, .subscribe(.init(epoch: "e", offset: 1, recovered: false, publications: [])))) == nil)
        #expect(PublicationPushWriter.writeReply(.reply(id: 1, .ping)) == nil)
        #expect(PublicationPushWriter.writeReply(.publication(Self.publications[0])) == nil)
    }
}
