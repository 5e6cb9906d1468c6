import Foundation
import SwitchboardProtocol
import Testing

/// A publication's data as text: validated and made canonical where it enters, equal when its JSON is.
@Suite struct RawJSONTests {
    @Test func textIsCanonicalSoEqualValuesHaveEqualBytes() throws {
        let spaced = try RawJSON(validating: Array(#"{ "b" : [1, 2.5, "x/y"], "a": {"d": null, "c": true} }"#.utf8))
        #expect(spaced.description == #"{"a":{"c":true,"d":null},"b":[1,2.5,"x/y"]}"#)
        #expect(spaced == RawJSON(["a": ["c": true, "d": nil], "b": [1, 2.5, "x/y"]]))
        #expect(spaced.value == JSONValue.object(["a": ["c": true, "d": nil], "b": [1, 2.5, "x/y"]]))
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

    /// Foundation's decoder forgives a trailing comma; what is kept is strict JSON all the same.
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
}
