import NIOCore

/// One value of the Redis serialization protocol, version 3 (RESP3), as Redis sends it.
///
/// RESP2's types are here too (RESP3 is a superset), so a reply reads the same whichever protocol the
/// connection speaks. Bulk strings stay `ByteBuffer`s: a history read of 1,000 publications should not
/// copy each payload into a `String` before the caller decides what it is.
public enum RESPValue: Sendable, Hashable {
    /// `+OK`: a short status line.
    case simpleString(String)
    /// `-ERR …` or a bulk error (`!`): the server refused the command; the text starts with the error code.
    case error(String)
    /// `$5\r\nhello`: binary-safe bytes.
    case bulkString(ByteBuffer)
    /// `=15\r\ntxt:Some string`: text with a three-letter format (`txt`, `mkd`).
    case verbatimString(format: String, text: String)
    case integer(Int64)
    case double(Double)
    /// `(3492890328409238509324850943850943825024385`: an integer too large for 64 bits, as its digits.
    case bigNumber(String)
    case boolean(Bool)
    /// RESP3's `_`, and RESP2's null bulk string (`$-1`) and null array (`*-1`).
    case null
    case array([RESPValue])
    /// Key–value pairs in the order the server sent them (RESP3 `%`).
    case map([Pair])
    /// RESP3 `~`: unordered, but kept in wire order.
    case set([RESPValue])
    /// RESP3 `>`: out-of-band data (pub/sub messages, invalidations), never the reply to a command.
    case push([RESPValue])

    /// One entry of a ``RESPValue/map(_:)``.
    public struct Pair: Sendable, Hashable {
        public var key: RESPValue
        public var value: RESPValue
        public init(key: RESPValue, value: RESPValue) {
            self.key = key
            self.value = value
        }
    }
}

extension RESPValue {
    /// The value as text when it is a string of any kind (simple, bulk or verbatim), else nil.
    public var string: String? {
        switch self {
        case .simpleString(let text), .verbatimString(_, let text): text
        case .bulkString(let bytes): String(buffer: bytes)
        default: nil
        }
    }

    /// The value as an integer: a RESP integer, or a string of digits (Lua scripts and some commands reply
    /// numbers as strings).
    public var int64: Int64? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString, .verbatimString: self.string.flatMap { Int64($0) }
        default: nil
        }
    }

    /// The elements of an array, set or push (nil for anything else).
    public var elements: [RESPValue]? {
        switch self {
        case .array(let values), .set(let values), .push(let values): values
        default: nil
        }
    }
}

extension RESPValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral {
    /// A string literal is a bulk string: what commands are made of.
    public init(stringLiteral value: String) { self = .bulkString(ByteBuffer(string: value)) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(arrayLiteral elements: RESPValue...) { self = .array(elements) }
}
