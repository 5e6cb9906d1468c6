import Foundation

/// A JSON value kept as its UTF-8 text: a publication's `data`, validated once where it enters the system
/// and then carried as bytes through the broker, history and every push, never decoded and encoded again on
/// the way to subscribers.
///
/// Text the client sent is kept as it came when it is strict JSON (RFC 8259, checked by a scanner that builds
/// nothing); anything else this type makes is canonical (object keys sorted, `/` not escaped, no whitespace).
/// Two values are equal when their JSON is: `RawJSON(["b": 1, "a": 2]) == RawJSON(["a": 2, "b": 1])`.
public struct RawJSON: Sendable, CustomStringConvertible {
    /// The JSON text, UTF-8.
    public let bytes: [UInt8]

    /// Bytes already known to be one JSON value, not checked again: what this system validated where it
    /// entered and stored or forwarded since (a broker's history, another node's publication).
    public init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The canonical text of `value`.
    public init(_ value: JSONValue) {
        // Every JSONValue is encodable short of a non-finite Double, which JSON cannot carry: null then.
        self.bytes = (try? Array(Self.encoder.encode(value))) ?? Array("null".utf8)
    }

    /// The canonical text of any `Encodable` value.
    public init(encoding value: some Encodable) throws {
        self.init(unchecked: Array(try Self.encoder.encode(value)))
    }

    /// Checks that `text` is one JSON value (RFC 8259) and keeps it as it is; text Foundation's decoder
    /// forgives (a trailing comma) is kept in canonical form instead. Throws when it is not JSON.
    public init(validating text: some Collection<UInt8>) throws {
        let bytes = Array(text)
        if bytes.withUnsafeBytes({ JSONScanner.isValid($0) }) {
            self.init(unchecked: bytes)
        } else {
            self.init(try JSONDecoder().decode(JSONValue.self, from: Data(bytes)))
        }
    }

    /// A decoder for `text` whose ``RawJSON`` at the top-level member `member` (a publish's `data`) keeps
    /// that member's exact text, when it is strict JSON, rather than decoding it into a tree and encoding
    /// it again: the one validation a publication's data gets on its way to every subscriber.
    public static func decoder(keepingMember member: String, of text: UnsafeRawBufferPointer) -> JSONDecoder {
        let decoder = JSONDecoder()
        if let range = JSONScanner.rangeOfMember(member, in: text) {
            decoder.userInfo[Self.sourceKey] = Source(member: member, bytes: Array(text[range]))
        }
        return decoder
    }

    /// What ``decoder(keepingMember:of:)`` found, for `init(from:)` to take.
    private struct Source: Sendable {
        let member: String
        let bytes: [UInt8]
    }

    private static let sourceKey = CodingUserInfoKey(rawValue: "switchboard.rawJSON.source")!

    /// The value as a tree.
    public var value: JSONValue {
        // Only ever made from valid JSON, so decoding cannot fail short of memory.
        (try? JSONDecoder().decode(JSONValue.self, from: Data(self.bytes))) ?? .null
    }

    /// Decodes the text as `type`.
    public func decode<Value: Decodable>(as type: Value.Type = Value.self, decoder: JSONDecoder = JSONDecoder()) throws -> Value {
        try decoder.decode(Value.self, from: Data(self.bytes))
    }

    public var description: String { String(decoding: self.bytes, as: UTF8.self) }

    /// Canonical output; configuration is fixed here and encoding does not mutate it, so one encoder serves
    /// every thread.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}

extension RawJSON: Hashable {
    /// Equal when the JSON is: the same bytes, or the same value written differently.
    public static func == (lhs: RawJSON, rhs: RawJSON) -> Bool {
        lhs.bytes == rhs.bytes || lhs.value == rhs.value
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.value)
    }
}

extension RawJSON: Codable {
    /// The member's exact text when the decoder came from ``decoder(keepingMember:of:)`` and this is that
    /// member; otherwise validates what the decoder holds here and keeps it as canonical text.
    public init(from decoder: any Decoder) throws {
        if let source = decoder.userInfo[Self.sourceKey] as? Source, decoder.codingPath.count == 1,
           decoder.codingPath[0].stringValue == source.member {
            self.init(unchecked: source.bytes)
        } else {
            self.init(try JSONValue(from: decoder))
        }
    }

    /// Through a tree: an encoder has no way to take text as it is. The server's hot path never comes here:
    /// it splices ``bytes`` into the messages it builds.
    public func encode(to encoder: any Encoder) throws {
        try self.value.encode(to: encoder)
    }
}

/// The text of each kind of value, named as ``JSONValue``'s cases: `RawJSON.object(["n": 1])`.
extension RawJSON {
    public static let null = RawJSON(JSONValue.null)
    public static func bool(_ value: Bool) -> RawJSON { RawJSON(.bool(value)) }
    public static func integer(_ value: Int64) -> RawJSON { RawJSON(.integer(value)) }
    public static func number(_ value: Double) -> RawJSON { RawJSON(.number(value)) }
    public static func string(_ value: String) -> RawJSON { RawJSON(.string(value)) }
    public static func array(_ value: [JSONValue]) -> RawJSON { RawJSON(.array(value)) }
    public static func object(_ value: [String: JSONValue]) -> RawJSON { RawJSON(.object(value)) }
}

extension RawJSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self.init(.string(value)) }
    public init(integerLiteral value: Int64) { self.init(.integer(value)) }
    public init(floatLiteral value: Double) { self.init(.number(value)) }
    public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
    public init(arrayLiteral elements: JSONValue...) { self.init(.array(elements)) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self.init(.object(Dictionary(elements, uniquingKeysWith: { $1 })))
    }
    public init(nilLiteral: ()) { self.init(.null) }
}
