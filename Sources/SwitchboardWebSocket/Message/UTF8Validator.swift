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
    ///
    /// Whole sequences are checked in registers; the stored state is only used for a sequence split
    /// across two calls, so the loop does no memory writes per byte.
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let count = bytes.count
        var index = 0
        // Finish a sequence left open by the previous call.
        guard self.continueOpenSequence(base, count: count, index: &index) else { return false }
        while index < count {
            let lead = base.load(fromByteOffset: index, as: UInt8.self)
            if lead < 0x80 {
                index += 1
                // In an ASCII run: skip sixteen, then eight bytes at a time. (Probing only after an
                // ASCII byte keeps text made of multi-byte characters off this path.)
                while index + 16 <= count {
                    let word = (base + index).loadUnaligned(as: UInt64.self) | (base + index + 8).loadUnaligned(as: UInt64.self)
                    if word & 0x8080_8080_8080_8080 != 0 { break }
                    index += 16
                }
                while index + 8 <= count {
                    if (base + index).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
                    index += 8
                }
                continue
            }
            // Unicode table 3-7: the lead fixes the length and the range of the second byte.
            let length: Int
            var lower: UInt8 = 0x80
            var upper: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; lower = 0xA0         // no overlong 3-byte forms
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; upper = 0x9F         // no UTF-16 surrogates
            case 0xF0: length = 4; lower = 0x90         // no overlong 4-byte forms
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; upper = 0x8F         // nothing above U+10FFFF
            default: return false                       // 80–C1, F5–FF never lead
            }
            if index + length <= count {
                let second = base.load(fromByteOffset: index + 1, as: UInt8.self)
                guard second >= lower && second <= upper else { return false }
                if length > 2 {
                    guard base.load(fromByteOffset: index + 2, as: UInt8.self) & 0xC0 == 0x80 else { return false }
                    if length > 3 {
                        guard base.load(fromByteOffset: index + 3, as: UInt8.self) & 0xC0 == 0x80 else { return false }
                    }
                }
                index += length
                continue
            }
            // The sequence runs past this chunk: check what is here and remember the rest.
            self.pending = UInt8(length - 1)
            self.lower = lower
            self.upper = upper
            index += 1
            return self.continueOpenSequence(base, count: count, index: &index)
        }
        return true
    }

    /// Checks continuation bytes of the open sequence one at a time (it straddles a chunk boundary), up to
    /// its end or the end of the chunk.
    private mutating func continueOpenSequence(_ base: UnsafeRawPointer, count: Int, index: inout Int) -> Bool {
        while self.pending > 0 && index < count {
            let byte = base.load(fromByteOffset: index, as: UInt8.self)
            guard byte >= self.lower && byte <= self.upper else { return false }
            index += 1
            self.pending -= 1
            self.lower = 0x80
            self.upper = 0xBF
        }
        return true
    }
}
