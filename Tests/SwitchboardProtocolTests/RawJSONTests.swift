import Foundation
import SwitchboardProtocol
import Testing

/// A publication's data as text: validated and made canonical where it enters, equal when its JSON is.
@Suite struct RawJSONTests {
    @Test func strictTextIsKeptAsItCameAndEqualToTheSameValueWrittenOtherwise() throws {
        let text = #"{ "b" : [1, 2.5, "x/y"], "a": {"d": null, "c": true} }"#
        let spaced = try RawJSON(validating: Array(text.utf8))
        #expect(spaced.description == text)
        #expect(spaced == RawJSON(["a": ["c": true, "d": nil], "b": [1, 2.5, "x/y"]]))
        #expect(spaced.hashValue == RawJSON(["a": ["c": true, "d": nil], "b": [1, 2.5, "x/y"]]).hashValue)
        #expect(spaced.value == JSONValue.object(["a": ["c": true, "d": nil], "b": [1, 2.5, "x/y"]]))
        #expect(RawJSON(["b": 1, "a": 2]).description == #"{"a":2,"b":1}"#)
    }

    @Test func integersBeyondDoublePrecisionSurvive() throws {
        let big = try RawJSON(validating: Array("9007199254740993".utf8))
        #expect(big.description == "9007199254740993")
        #expect(try big.decode(as: Int64.self) == 9_007_199_254_740_993)
    }

    @Test(arguments: ["", "{", "nul", "\"unterminated", "{\"a\" 1}", "1 2", "[1,,2]"])
    func textThatIsNotOneJSONValueIsRefused(_ text: String) {
        #expect(throws: (any Error).self) { try RawJSON(validating: Array(text.utf8)) }
    }

    /// Foundation's decoder forgives a trailing comma; what is kept is strict JSON all the same (canonical).
    @Test func whatIsKeptIsStrictJSONEvenFromForgivingInput() throws {
        #expect(try RawJSON(validating: Array("[1,]".utf8)).description == "[1]")
    }

    /// Inside a message it is decoded (validated) and encoded like any value, so a client's message types
    /// round-trip unchanged.
    @Test func itRoundTripsInsideMessages() throws {
        let publication = Publication(channel: "chat:a", offset: 3, epoch: "e", data: ["text": "hi", "n": 1])
        let decoded = try JSONDecoder().decode(Publication.self, from: JSONEncoder().encode(publication))
        #expect(decoded == publication)
        let command = ClientCommand(id: 7, .publish(.init(channel: "chat:a", data: [1, "two", nil])))
        #expect(try JSONDecoder().decode(ClientCommand.self, from: JSONEncoder().encode(command)) == command)
    }

    @Test func uncheckedBytesAreKeptAsTheyAre() {
        let stored = RawJSON(unchecked: Array(#"{"b":1, "a":2}"#.utf8))
        #expect(stored.description == #"{"b":1, "a":2}"#)
        #expect(stored.value == JSONValue.object(["a": 2, "b": 1]))
    }

    /// A publish keeps its data as the client wrote it; text only Foundation accepts, or a member name
    /// written with escapes, is read the ordinary way (canonical text, same value).
    @Test func aPublishKeepsTheDataTextTheClientSent() throws {
        func data(_ command: String) throws -> RawJSON {
            guard case .success(let decoded) = ClientCommand.decode(Array(command.utf8)), case .publish(let publish) = decoded.body else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not a publish: \(command)"))
            }
            return publish.data
        }
        #expect(try data(#"{"type":"publish","id":1,"channel":"c","data": {"z" : [1, 2], "a": "\u00e9"} }"#).description
            == #"{"z" : [1, 2], "a": "\u00e9"}"#)
        #expect(try data(#"{"data":[true],"type":"publish","id":1,"channel":"c"}"#).description == "[true]")
        #expect(try data(#"{"type":"publish","id":1,"channel":"c","data":[1,2,]}"#).description == "[1,2]")
        #expect(try data(#"{"type":"publish","id":1,"channel":"c","\u0064ata":{"b":1, "a":2}}"#).description == #"{"a":2,"b":1}"#)
    }
}
