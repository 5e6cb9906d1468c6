import Foundation
import Testing
@testable import SwitchboardProtocol

@Suite struct ClientCommandTests {
    func decode(_ json: String) -> Result<ClientCommand, CommandDecodingError> {
        ClientCommand.decode(Array(json.utf8))
    }

    /// The examples people paste into a browser console decode to the commands they mean.
    @Test(arguments: [
        (#"{"type":"connect","id":1,"token":"eyJh.b.c","name":"switchboard.js","version":"1.0"}"#,
         ClientCommand(id: 1, .connect(.init(token: "eyJh.b.c", name: "switchboard.js", version: "1.0")))),
        (#"{"type":"subscribe","id":2,"channel":"chat:lobby","since":{"offset":41,"epoch":"x7Gk"}}"#,
         ClientCommand(id: 2, .subscribe(.init(channel: "chat:lobby", since: StreamPosition(offset: 41, epoch: "x7Gk"))))),
        (#"{"type":"subscribe","id":3,"channel":"user:17"}"#, ClientCommand(id: 3, .subscribe(.init(channel: "user:17")))),
        (#"{"type":"unsubscribe","id":4,"channel":"chat:lobby"}"#, ClientCommand(id: 4, .unsubscribe(.init(channel: "chat:lobby")))),
        (#"{"type":"publish","id":5,"channel":"chat:lobby","data":{"text":"hi","n":9007199254740993,"tags":["a",true,null,1.5]}}"#,
         ClientCommand(id: 5, .publish(.init(channel: "chat:lobby", data: ["text": "hi", "n": 9_007_199_254_740_993, "tags": ["a", true, nil, 1.5]])))),
        (#"{"type":"presence","id":6,"channel":"chat:lobby"}"#, ClientCommand(id: 6, .presence(.init(channel: "chat:lobby")))),
        (#"{"type":"history","id":7,"channel":"chat:lobby","limit":100}"#, ClientCommand(id: 7, .history(.init(channel: "chat:lobby", limit: 100)))),
        (#"{"type":"refresh","id":8,"token":"new"}"#, ClientCommand(id: 8, .refresh(.init(token: "new")))),
        (#"{"type":"ping","id":9}"#, ClientCommand(id: 9, .ping)),
    ] as [(String, ClientCommand)])
    func documentedExamplesDecode(json: String, expected: ClientCommand) throws {
        #expect(try decode(json).get() == expected)
        // And what we encode decodes to the same command.
        let encoded = try JSONEncoder().encode(expected)
        #expect(try decode(String(decoding: encoded, as: UTF8.self)).get() == expected)
    }

    @Test(arguments: [
        ("not json", nil, ErrorCode.badRequest, "invalid command: not valid JSON"),
        ("[1,2]", nil, .badRequest, "a command must be a JSON object"),
        (#"{"id":3}"#, 3, .badRequest, "missing 'type'"),
        (#"{"type":"teleport","id":4}"#, 4, .unknownCommand, "unknown command type 'teleport'"),
        (#"{"type":"subscribe","channel":"a"}"#, nil, .badRequest, "'subscribe' needs a numeric 'id'"),
        (#"{"type":"subscribe","id":"7","channel":"a"}"#, nil, .badRequest, "'subscribe' needs a numeric 'id'"),
        (#"{"type":"subscribe","id":5}"#, 5, .badRequest, "missing field 'channel'"),
        (#"{"type":"subscribe","id":6,"channel":42}"#, 6, .badRequest, "field 'channel' should be a string"),
        (#"{"type":"history","id":7,"channel":"a","since":{"epoch":"e"}}"#, 7, .badRequest, "missing field 'since.offset'"),
        (#"{"type":"publish","id":8,"channel":"a"}"#, 8, .badRequest, "missing field 'data'"),
    ] as [(String, UInt64?, ErrorCode, String)])
    func malformedCommandsNameTheProblem(json: String, id: UInt64?, code: ErrorCode, message: String) {
        guard case .failure(let error) = decode(json) else {
            Issue.record("\(json) decoded")
            return
        }
        #expect(error.id == id)
        #expect(error.code == code)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test func unknownFieldsAreIgnoredForForwardCompatibility() throws {
        let command = try decode(#"{"type":"ping","id":1,"trace":"abc"}"#).get()
        #expect(command == ClientCommand(id: 1, .ping))
    }
}
