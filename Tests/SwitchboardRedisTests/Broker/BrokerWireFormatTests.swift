import NIOCore
import SwitchboardProtocol
import Testing
@testable import SwitchboardRedis

/// A publication's body in Redis carries the data's bytes as the publishing node validated them, read back
/// without decoding; bodies written in the first format are still read.
@Suite struct BrokerWireFormatTests {
    @Test(arguments: [nil, ClientInfo(user: "alice", client: "c-1", info: ["a": "line\nbreak"])])
    func aBodyCarriesTheDataBytesAsTheyAre(_ info: ClientInfo?) throws {
        // Line breaks inside the data, and bytes no encoder would write: kept as they are.
        let data = RawJSON(unchecked: Array("{\n  \"z\": 1,\n  \"a\": [\"\\n\"]\n}".utf8))
        let body = try BrokerWireFormat.encodeBody(data: data, info: info)
        let decoded = try BrokerWireFormat.decodeBody(Array(body.utf8))
        #expect(decoded.data.bytes == data.bytes)
        #expect(decoded.info == info)

        let message = ByteBuffer(string: "17\nep0ch\n" + body)
        let publication = try BrokerWireFormat.decodeMessage(message, channel: "chat:x")
        #expect(publication == Publication(channel: "chat:x", offset: 17, epoch: "ep0ch", data: data, info: info))
    }

    @Test func aBodyOfTheFirstFormatIsStillRead() throws {
        let legacy = #"{"data":{"text":"hi","n":1},"info":{"client":"c-1","user":"bob"}}"#
        let decoded = try BrokerWireFormat.decodeBody(Array(legacy.utf8))
        #expect(decoded.data == ["n": 1, "text": "hi"])
        #expect(decoded.info == ClientInfo(user: "bob", client: "c-1"))
    }

    @Test func aBodyWithoutItsInfoLineIsRefused() {
        #expect(throws: (any Error).self) { try BrokerWireFormat.decodeBody(Array("v2\n".utf8) + Array("{}".utf8).dropLast(2)) }
    }
}
