import Foundation
import Testing
@testable import SwitchboardProtocol

/// The strict JSON scanner: RFC 8259 exactly (the vectors follow the JSONTestSuite's y_/n_ naming of cases).
@Suite struct JSONScannerTests {
    static let valid: [String] = [
        "0", "-0", "1.5", "-12.25e+10", "1E-2", "123456789012345678901234567890", "true", "false", "null",
        #""""#, #""a\"b\\c\/d\b\f\n\r\t\u00E9\uD83D\uDE00""#, "\"é🎉日本\"", "[]", "{}", " [ 1 , { \"a\" : [ null ] } ] ",
        "[[[[[[[[[[\"deep\"]]]]]]]]]]", "{\"a\":1,\"a\":2}", "\t\n\r 7 \n",
    ]
    static let invalid: [String] = [
        "", " ", "[1,]", "[,1]", "{\"a\":1,}", "{,}", "{\"a\" 1}", "{a:1}", "{\"a\":}", "[1 2]", "01", "-", "1.", ".5",
        "1e", "+1", "0x10", "NaN", "Infinity", "tru", "nul", "True", "'a'", "\"unterminated", "\"tab\there\"",
        #""\x""#, #""\u12""#, #""\u12G4""#, "[", "]", "1 2", "{\"a\":1}}", "\u{FEFF}1",
    ]

    @Test(arguments: Self.valid)
    func strictJSONIsAccepted(_ text: String) {
        #expect(Array(text.utf8).withUnsafeBytes { JSONScanner.isValid($0) }, "\(text)")
    }

    @Test(arguments: Self.invalid)
    func anythingElseIsRefused(_ text: String) {
        #expect(!Array(text.utf8).withUnsafeBytes { JSONScanner.isValid($0) }, "\(text)")
    }

    /// Malformed UTF-8 inside strings: overlong forms, encoded surrogates, past U+10FFFF, cut sequences.
    @Test(arguments: [[0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80],
                      [0xC3], [0xE2, 0x82], [0x80], [0xFF]] as [[UInt8]])
    func malformedUTF8IsRefused(_ sequence: [UInt8]) {
        let text = [UInt8(ascii: "\"")] + sequence + [UInt8(ascii: "\"")]
        #expect(!text.withUnsafeBytes { JSONScanner.isValid($0) })
    }

    /// Whatever the scanner accepts, Foundation's decoder reads (the scanner is never the more lenient).
    @Test(arguments: Self.valid)
    func whatItAcceptsFoundationReads(_ text: String) throws {
        _ = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    @Test func nestingDeeperThanTheDecodersLimitIsRefused() {
        let deep = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(!Array(deep.utf8).withUnsafeBytes { JSONScanner.isValid($0) })
        let fine = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(Array(fine.utf8).withUnsafeBytes { JSONScanner.isValid($0) })
    }

    @Test func aTopLevelMemberIsFoundExactlyOnce() {
        func member(_ name: String, _ text: String) -> String? {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { buffer in
                JSONScanner.rangeOfMember(name, in: buffer).map { String(decoding: bytes[$0], as: UTF8.self) }
            }
        }
        #expect(member("data", #"{"type":"publish","data" : {"a":[1, "}"]} ,"id":1}"#) == #"{"a":[1, "}"]}"#)
        #expect(member("data", #" {"data":"x"} "#) == #""x""#)
        #expect(member("data", #"{"nested":{"data":1}}"#) == nil)
        #expect(member("data", #"{"data":1,"data":2}"#) == nil)
        #expect(member("data", #"{"d\u0061ta":1}"#) == nil)
        #expect(member("data", #"{"data":[1,]}"#) == nil)
        #expect(member("data", #"{"data":1} trailing"#) == nil)
        #expect(member("data", #"[{"data":1}]"#) == nil)
        #expect(member("data", "{}") == nil)
    }
}
