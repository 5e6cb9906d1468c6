/// A strict JSON (RFC 8259) scanner over UTF-8 bytes: checks that text is JSON and finds where values are,
/// without building anything. It lets a publication's data be validated where it enters and then kept as
/// the very bytes the client sent.
///
/// Stricter than Foundation's decoder, which forgives a trailing comma: bytes this scanner accepts can be
/// spliced into any message and read by any JSON parser.
struct JSONScanner {
    /// Nesting deeper than this is refused (Foundation's decoder refuses it too).
    static let maximumDepth = InvalidJSON.maximumDepth

    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Whether `bytes` are exactly one JSON value, with optional whitespace around it.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var scanner = JSONScanner(bytes)
        scanner.skipWhitespace()
        guard scanner.skipValue(depth: 0) else { return false }
        scanner.skipWhitespace()
        return scanner.index == bytes.count
    }

    /// The range of the value of the top-level object's member `name`, when `bytes` are an object whose
    /// members up to and including that one are valid JSON and the name occurs once; nil otherwise (the
    /// caller then reads the text the ordinary way). Names are compared as written: one spelled with
    /// escapes does not match.
    static func rangeOfMember(_ name: String, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        var scanner = JSONScanner(bytes)
        let wanted = Array(name.utf8)
        var found: Range<Int>?
        scanner.skipWhitespace()
        guard scanner.take(UInt8(ascii: "{")) else { return nil }
        scanner.skipWhitespace()
        if scanner.take(UInt8(ascii: "}")) { return nil }
        while true {
            let keyStart = scanner.index + 1
            guard scanner.skipString() else { return nil }
            let key = keyStart..<(scanner.index - 1)
            scanner.skipWhitespace()
            guard scanner.take(UInt8(ascii: ":")) else { return nil }
            scanner.skipWhitespace()
            let valueStart = scanner.index
            guard scanner.skipValue(depth: 1) else { return nil }
            if key.count == wanted.count, zip(key, wanted).allSatisfy({ bytes[$0] == $1 }) {
                guard found == nil else { return nil }  // a repeated name: let the decoder settle which
                found = valueStart..<scanner.index
            } else if bytes[key].contains(UInt8(ascii: "\\")) {
                return nil  // an escaped name might spell `name`
            }
            scanner.skipWhitespace()
            if scanner.take(UInt8(ascii: ",")) {
                scanner.skipWhitespace()
                continue
            }
            guard scanner.take(UInt8(ascii: "}")) else { return nil }
            scanner.skipWhitespace()
            return scanner.index == bytes.count ? found : nil
        }
    }

    // MARK: - Grammar (RFC 8259 §2–§8)

    private var current: UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard self.current == byte else { return false }
        self.index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while let byte = self.current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { self.index += 1 }
    }

    private mutating func skipValue(depth: Int) -> Bool {
        switch self.current {
        case UInt8(ascii: "{")?: return self.skipContainer(close: UInt8(ascii: "}"), members: true, depth: depth + 1)
        case UInt8(ascii: "[")?: return self.skipContainer(close: UInt8(ascii: "]"), members: false, depth: depth + 1)
        case UInt8(ascii: "\"")?: return self.skipString()
        case UInt8(ascii: "t")?: return self.skipLiteral("true")
        case UInt8(ascii: "f")?: return self.skipLiteral("false")
        case UInt8(ascii: "n")?: return self.skipLiteral("null")
        default: return self.skipNumber()
        }
    }

    private mutating func skipContainer(close: UInt8, members: Bool, depth: Int) -> Bool {
        guard depth <= Self.maximumDepth else { return false }
        self.index += 1
        self.skipWhitespace()
        if self.take(close) { return true }
        while true {
            if members {
                guard self.skipString() else { return false }
                self.skipWhitespace()
                guard self.take(UInt8(ascii: ":")) else { return false }
                self.skipWhitespace()
            }
            guard self.skipValue(depth: depth) else { return false }
            self.skipWhitespace()
            if self.take(close) { return true }
            guard self.take(UInt8(ascii: ",")) else { return false }
            self.skipWhitespace()
        }
    }

    private mutating func skipLiteral(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard self.bytes.count - self.index >= count else { return false }
        for offset in 0..<count where self.bytes[self.index + offset] != literal.utf8Start[offset] { return false }
        self.index += count
        return true
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    private mutating func skipNumber() -> Bool {
        _ = self.take(UInt8(ascii: "-"))
        if self.take(UInt8(ascii: "0")) {
            // no leading zeros
        } else {
            guard self.skipDigits() else { return false }
        }
        if self.take(UInt8(ascii: ".")) {
            guard self.skipDigits() else { return false }
        }
        if self.take(UInt8(ascii: "e")) || self.take(UInt8(ascii: "E")) {
            _ = self.take(UInt8(ascii: "+")) || self.take(UInt8(ascii: "-"))
            guard self.skipDigits() else { return false }
        }
        return true
    }

    private mutating func skipDigits() -> Bool {
        let start = self.index
        while let byte = self.current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { self.index += 1 }
        return self.index > start
    }

    /// A string: no raw control characters, only the escapes RFC 8259 §7 lists, well-formed UTF-8 (no
    /// overlong forms, no encoded surrogates, nothing past U+10FFFF).
    private mutating func skipString() -> Bool {
        guard self.take(UInt8(ascii: "\"")) else { return false }
        while let byte = self.current {
            switch byte {
            case UInt8(ascii: "\""):
                self.index += 1
                return true
            case UInt8(ascii: "\\"):
                self.index += 1
                guard let escaped = self.current else { return false }
                self.index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    continue
                case UInt8(ascii: "u"):
                    for _ in 0..<4 {
                        guard let hex = self.current, hex.isHexDigit else { return false }
                        self.index += 1
                    }
                default:
                    return false
                }
            case 0x00..<0x20:
                return false
            case 0x20..<0x80:
                self.index += 1
            default:
                guard self.skipMultibyteScalar() else { return false }
            }
        }
        return false
    }

    /// One UTF-8 sequence of 2 to 4 bytes (Unicode Table 3-7, well-formed byte sequences).
    private mutating func skipMultibyteScalar() -> Bool {
        let lead = self.bytes[self.index]
        let count: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: count = 2
        case 0xE0: count = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: count = 3
        case 0xED: count = 3; secondRange = 0x80...0x9F
        case 0xF0: count = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: count = 4
        case 0xF4: count = 4; secondRange = 0x80...0x8F
        default: return false
        }
        guard self.bytes.count - self.index >= count, secondRange.contains(self.bytes[self.index + 1]) else { return false }
        for offset in 2..<count where !(0x80...0xBF).contains(self.bytes[self.index + offset]) { return false }
        self.index += count
        return true
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }
}
