import Foundation

/// A JSON value kept as its UTF-8 text: a publication's `data`, validated once where it enters the system
/// and then carried as bytes through the broker, history and every push, never decoded and encoded again on
/// the way to subscribers.
///
/// Text made here is canonical (object keys sorted, `/` not escaped, no whitespace), so two values are equal
/// when their JSON is: `RawJSON(["b": 1, "a": 2]) == RawJSON(["a": 2, "b": 1])`. Decoding one from a
/// message (`Codable`) validates it and makes it canonical too.
public struct RawJSON: Sendable, Hashable, CustomStringConvertible {
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

    /// Checks that `text` is one JSON value (RFC 8259) and keeps its canonical form; throws when it is not.
    public init(validating text: some Collection<UInt8>) throws {
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(text))
        self.init(value)
    }

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

extension RawJSON: Codable {
    /// Validates what the decoder holds at this point and keeps it as canonical text.
    public init(from decoder: any Decoder) throws {
        self.init(try JSONValue(from: decoder))
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
