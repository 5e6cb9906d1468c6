import Foundation
import SwitchboardProtocol
import Testing

/// The `switchboard.v1.protobuf` encoding: every command and server message survives the trip through its
/// binary form unchanged, and bad binary messages give the error to answer.
@Suite struct ProtobufEncodingTests {
    static let position = StreamPosition(offset: 41, epoch: "x7Gk")
    static let info = ClientInfo(user: "alice", client: "c1", info: ["team": "blue", "n": 3])
    static let publication = Publication(channel: "chat:lobby", offset: 46, epoch: "x7Gk", data: ["text": "hi", "n": 9_007_199_254_740_993], info: Self.info)

    static let commands: [ClientCommand] = [
        ClientCommand(id: 1, .connect(.init())),
        ClientCommand(id: 2, .connect(.init(token: "t", name: "switchboard-swift", version: "1.0"))),
        ClientCommand(id: 3, .subscribe(.init(channel: "news"))),
        ClientCommand(id: 4, .subscribe(.init(channel: "news", since: Self.position))),
        ClientCommand(id: 5, .unsubscribe(.init(channel: "news"))),
        ClientCommand(id: 6, .publish(.init(channel: "chat:lobby", data: ["text": "hi"]))),
        ClientCommand(id: 7, .publish(.init(channel: "chat:lobby", data: "x", idempotencyKey: "k-1"))),
        ClientCommand(id: 8, .presence(.init(channel: "chat:lobby"))),
        ClientCommand(id: 9, .history(.init(channel: "chat:lobby"))),
        ClientCommand(id: 10, .history(.init(channel: "chat:lobby", since: Self.position, limit: 0))),
        ClientCommand(id: 11, .refresh(.init(token: "t2"))),
        ClientCommand(id: UInt64.max, .ping),
    ]

    static let messages: [ServerMessage] = [
        .reply(id: 1, .connect(.init(client: "c1", user: "alice"))),
        .reply(id: 2, .connect(.init(client: "c1", user: "", expires: 0, ping: 25))),
        .reply(id: 3, .subscribe(.init(epoch: "x7Gk", offset: 45))),
        .reply(id: 4, .subscribe(.init(epoch: "x7Gk", offset: 46, recovered: true, publications: [Self.publication]))),
        .reply(id: 4, .subscribe(.init(epoch: "x7Gk", offset: 46, recovered: false, publications: []))),
        .reply(id: 5, .unsubscribe),
        .reply(id: 6, .publish(.init(offset: 47, epoch: "x7Gk"))),
        .reply(id: 8, .presence(.init(clients: [Self.info, ClientInfo(user: "", client: "c2")]))),
        .reply(id: 9, .history(.init(epoch: "x7Gk", offset: 46, publications: [Self.publication]))),
        .reply(id: 11, .refresh(.init(expires: 3600))),
        .reply(id: 11, .refresh(.init())),
        .reply(id: 12, .ping),
        .error(id: 3, .init(code: .permissionDenied, message: "no")),
        .error(id: nil, .init(code: .tokenExpired, message: "refresh")),
        .publication(Self.publication),
        .publication(Publication(channel: "news", offset: 1, epoch: "e", data: nil)),
        .join(.init(channel: "chat:lobby", info: Self.info)),
        .leave(.init(channel: "chat:lobby", info: ClientInfo(user: "bob", client: "c3"))),
        .unsubscribed(.init(channel: "news", reason: "gone")),
        .disconnect(.init(code: .shutdown, reason: "draining", delay: 1500)),
        .disconnect(.init(code: .forced, reason: "bye")),
    ]

    @Test(arguments: Self.commands)
    func everyCommandSurvivesItsBinaryForm(_ command: ClientCommand) throws {
        #expect(try ClientCommand.decode(protobuf: command.protobufEncoded()).get() == command)
    }

    @Test(arguments: Self.messages)
    func everyServerMessageSurvivesItsBinaryForm(_ message: ServerMessage) throws {
        #expect(try ServerMessage.decode(protobuf: message.protobufEncoded()) == message)
    }

    /// The same command read from JSON and from protobuf is one value: the server runs either the same way.
    @Test func aCommandReadsTheSameFromJSONAndFromProtobuf() throws {
        let json = #"{"type":"publish","id":7,"channel":"chat:lobby","data":{"n":9007199254740993},"idempotencyKey":"k"}"#
        let fromJSON = try ClientCommand.decode(Array(json.utf8)).get()
        #expect(try ClientCommand.decode(protobuf: fromJSON.protobufEncoded()).get() == fromJSON)
    }

    @Test func bytesThatAreNoCommandAreABadRequest() {
        guard case .failure(let error) = ClientCommand.decode(protobuf: [0xFF, 0xFF, 0xFF]) else {
            Issue.record("garbage decoded as a command")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.id == nil)
    }

    /// A command with an id but no body (a field number from a newer schema, say): error 101 with its id.
    @Test func aCommandWithoutABodyIsUnknownAndKeepsItsID() {
        // Field 1 (id) = 5, and an unknown field 99 (varint 1).
        guard case .failure(let error) = ClientCommand.decode(protobuf: [0x08, 0x05, 0x98, 0x06, 0x01]) else {
            Issue.record("a command without a body decoded")
            return
        }
        #expect(error.code == .unknownCommand)
        #expect(error.id == 5)
    }

    @Test func publishDataThatIsNotJSONIsABadRequestWithTheCommandsID() {
        var bytes = ClientCommand(id: 9, .publish(.init(channel: "c", data: "x"))).protobufEncoded()
        // The data field's bytes are `"x"`: make them `x"` (not JSON) in place.
        let quote = UInt8(ascii: "\"")
        guard let first = bytes.firstIndex(of: quote) else {
            Issue.record("no data in \(bytes)")
            return
        }
        bytes[first] = UInt8(ascii: "x")
        guard case .failure(let error) = ClientCommand.decode(protobuf: bytes) else {
            Issue.record("non-JSON data was accepted")
            return
        }
        #expect(error.code == .badRequest)
        #expect(error.id == 9)
    }

    @Test func bytesThatAreNoServerMessageThrow() {
        #expect(throws: ProtobufMessageError.self) { try ServerMessage.decode(protobuf: [0x0A, 0xFF]) }
        #expect(throws: ProtobufMessageError.self) { try ServerMessage.decode(protobuf: []) }
    }
}
