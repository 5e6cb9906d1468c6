/// The bytes from the server are not valid RESP3, or exceed the decoder's limits.
///
/// Always the peer's fault (or a byte stream that is not Redis at all): the connection cannot be trusted
/// after it, because where the next value starts is unknown, so the client closes it.
public struct RESPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case unknownType
        case malformedLine
        case malformedNumber
        case malformedBoolean
        case malformedVerbatim
        case missingTerminator
        case negativeLength
        case tooLong
        case tooManyElements
        case nestedTooDeeply
        case streamedValueUnsupported
    }

    private let code: Code
    /// What was wrong, for logs.
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    static func unknownType(_ byte: UInt8) -> Self { .init(.unknownType, "unknown type byte 0x\(String(byte, radix: 16))") }
    static func malformedLine(_ why: String) -> Self { .init(.malformedLine, why) }
    static func malformedNumber(_ text: String) -> Self { .init(.malformedNumber, "not a number: \(text.prefix(40))") }
    static func malformedBoolean(_ text: String) -> Self { .init(.malformedBoolean, "not a boolean: \(text.prefix(40))") }
    static let malformedVerbatim = Self(.malformedVerbatim, "a verbatim string needs a three-character format and a colon")
    static let missingTerminator = Self(.missingTerminator, "a bulk value is not followed by CRLF")
    static func negativeLength(_ length: Int) -> Self { .init(.negativeLength, "length \(length)") }
    static func tooLong(_ length: Int, limit: Int) -> Self { .init(.tooLong, "length \(length) exceeds the limit of \(limit) bytes") }
    static func tooManyElements(_ count: Int, limit: Int) -> Self { .init(.tooManyElements, "\(count) elements exceed the limit of \(limit)") }
    static func nestedTooDeeply(limit: Int) -> Self { .init(.nestedTooDeeply, "aggregates nested deeper than \(limit)") }
    static let streamedValueUnsupported = Self(.streamedValueUnsupported, "streamed strings and aggregates (length '?') are not supported")

    public var description: String { "RESP decoding error: \(self.detail)" }
}
