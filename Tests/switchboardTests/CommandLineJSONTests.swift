@testable import SwitchboardClient
import SwitchboardProtocol
import Testing
@testable import switchboard

@Suite struct CommandLineJSONTests {
    @Test(arguments: [
        (#"{"text":"hi","n":1}"#, JSONValue.object(["text": "hi", "n": 1])),
        ("42", .integer(42)),
        (" 42 ", .integer(42)),
        ("-1.5", .number(-1.5)),
        ("true", .bool(true)),
        ("null", .null),
        ("[1,\"a\"]", .array([1, "a"])),
        (#""quoted""#, .string("quoted")),
        ("hello", .string("hello")),
        ("hello world", .string("hello world")),
        (#"{"broken":"#, .string(#"{"broken":"#)),
        ("42abc", .string("42abc")),
        ("", .string("")),
    ])
    func jsonOrString(text: String, expected: JSONValue) {
        #expect(CommandLineJSON.value(of: text) == expected)
    }

    @Test func aPublicationIsOneLineWithSortedKeys() {
        let fromClient = ReceivedPublication<JSONValue>(
            value: ["text": "hi", "at": "12:00"], channel: "chat:room", offset: 7, epoch: "e1",
            publisher: ClientInfo(user: "alice", client: "c-1"))
        #expect(PublicationLine(fromClient).text
            == #"{"channel":"chat:room","data":{"at":"12:00","text":"hi"},"epoch":"e1","offset":7,"publisher":{"client":"c-1","user":"alice"}}"#)
        let fromBackEnd = ReceivedPublication<JSONValue>(value: "a/b", channel: "chat:room", offset: 8, epoch: "e1", publisher: nil)
        #expect(PublicationLine(fromBackEnd).text == #"{"channel":"chat:room","data":"a/b","epoch":"e1","offset":8}"#)
    }

    @Test func thePublishBodyAndReply() throws {
        let body = CommandLineJSON.line(APIPublishRequest(channel: "chat:room", data: CommandLineJSON.value(of: "hi")))
        #expect(body == #"{"channel":"chat:room","data":"hi"}"#)
        #expect(CommandLineJSON.line(APIPublishReply(epoch: "x7Gk2QpA", offset: 47)) == #"{"epoch":"x7Gk2QpA","offset":47}"#)
    }
}
