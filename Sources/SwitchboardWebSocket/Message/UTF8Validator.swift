/// An incremental UTF-8 validator that fails at the first byte that cannot continue a valid sequence.
///
/// RFC 6455 §8.1: an endpoint receiving invalid UTF-8 in a text message must fail the connection. Being
/// incremental lets us fail inside a fragmented message, or inside a frame that arrives in pieces, as soon
/// as the bad byte is seen (the strict behaviour of Autobahn cases 6.4.x), not when the message completes.
///
/// The rules are Unicode's table 3-7 (well-formed byte sequences): the second byte of E0, ED, F0 and F4
/// sequences has a narrowed range, which rejects overlongs, surrogates and code points above U+10FFFF at
/// the earliest byte.
public struct UTF8Validator: Sendable, Hashable {
    /// Continuation bytes still expected for the current code point.
    var pending: UInt8 = 0
    /// Inclusive range allowed for the next continuation byte.
    var lower: UInt8 = 0x80
    var upper: UInt8 = 0xBF

    public init() {}

    /// True when no code point is open: a message may end here.
    public var isComplete: Bool { self.pending == 0 }

    /// Validates the next bytes; returns false at the first invalid byte (the validator is then spent).
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        while index < count {
            if self.pending == 0 {
                // ASCII fast path: eight bytes at a time while no code point is open.
                while index + 8 <= count {
                    let word = (base + index).loadUnaligned(as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index += 8
                }
                if index == count { return true }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index += 1
                if byte < 0x80 { continue }
                if !self.start(byte) { return false }
            } else {
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                index += 1
                guard byte >= self.lower && byte <= self.upper else { return false }
                self.pending -= 1
                self.lower = 0x80
                self.upper = 0xBF
            }
        }
        return true
    }

    /// Opens a multi-byte sequence for `lead`, or returns false if `lead` can never start one.
    mutating func start(_ lead: UInt8) -> Bool {
        switch lead {
        case 0xC2...0xDF: self.pending = 1
        case 0xE0: self.pending = 2; self.lower = 0xA0      // no overlong 3-byte forms
        case 0xE1...0xEC, 0xEE...0xEF: self.pending = 2
        case 0xED: self.pending = 2; self.upper = 0x9F      // no UTF-16 surrogates
        case 0xF0: self.pending = 3; self.lower = 0x90      // no overlong 4-byte forms
        case 0xF1...0xF3: self.pending = 3
        case 0xF4: self.pending = 3; self.upper = 0x8F      // nothing above U+10FFFF
        default: return false                               // 80–C1, F5–FF never lead
        }
        return true
    }
}
