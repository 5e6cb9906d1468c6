import Foundation
import SwitchboardProtocol

/// The rule every tool applies to data typed on a command line or a stdin line: text that is a JSON value is
/// sent as that value (`{"text":"hi"}`, `42`, `true`, `"quoted"`), anything else as a JSON string (`hello`
/// becomes `"hello"`). So a terminal user rarely has to quote, and a script can still send any JSON.
enum CommandLineJSON {
    static func value(of text: String) -> JSONValue {
        // JSONDecoder accepts a top-level fragment (a number, a string) and whitespace around it.
        if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) {
            return value
        }
        return .string(text)
    }

    /// One line of JSON with sorted keys, as the tools print values (stable output for scripts and diffs).
    static func line(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Plain Codable values of JSON types; encoding them cannot fail.
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }
}
