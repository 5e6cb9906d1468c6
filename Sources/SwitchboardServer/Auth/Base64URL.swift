/// Base64url without padding, the only encoding a compact JWS may use (RFC 7515 §2, §7.1).
///
/// Strict on purpose: a character outside the alphabet, padding, or an impossible length is refused, so two
/// different strings never decode to the same token.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Unpadded base64url of `bytes`: what `decode` reads back.
    static func encode(_ bytes: some Collection<UInt8>) -> String {
        var output = [UInt8]()
        output.reserveCapacity((bytes.count * 4 + 2) / 3)
        var iterator = bytes.makeIterator()
        while let first = iterator.next() {
            let second = iterator.next()
            let third = iterator.next()
            let value = UInt32(first) << 16 | UInt32(second ?? 0) << 8 | UInt32(third ?? 0)
            output.append(Self.alphabet[Int(value >> 18 & 0x3F)])
            output.append(Self.alphabet[Int(value >> 12 & 0x3F)])
            if second != nil { output.append(Self.alphabet[Int(value >> 6 & 0x3F)]) }
            if third != nil { output.append(Self.alphabet[Int(value & 0x3F)]) }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The decoded bytes, or nil when `text` is not canonical unpadded base64url.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        var sextets = [UInt8]()
        sextets.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            guard let value = Self.value(of: byte) else { return nil }
            sextets.append(value)
        }
        // A single leftover character carries 6 bits: not even one byte.
        guard sextets.count % 4 != 1 else { return nil }
        var output = [UInt8]()
        output.reserveCapacity(sextets.count * 3 / 4)
        var index = 0
        while index + 4 <= sextets.count {
            let value = UInt32(sextets[index]) << 18 | UInt32(sextets[index + 1]) << 12
                | UInt32(sextets[index + 2]) << 6 | UInt32(sextets[index + 3])
            output.append(UInt8(value >> 16 & 0xFF))
            output.append(UInt8(value >> 8 & 0xFF))
            output.append(UInt8(value & 0xFF))
            index += 4
        }
        switch sextets.count - index {
        case 2:
            // RFC 4648 §3.5: the unused low bits must be zero, or the encoding is not canonical.
            guard sextets[index + 1] & 0x0F == 0 else { return nil }
            output.append(sextets[index] << 2 | sextets[index + 1] >> 4)
        case 3:
            guard sextets[index + 2] & 0x03 == 0 else { return nil }
            let value = UInt32(sextets[index]) << 12 | UInt32(sextets[index + 1]) << 6 | UInt32(sextets[index + 2])
            output.append(UInt8(value >> 10 & 0xFF))
            output.append(UInt8(value >> 2 & 0xFF))
        default:
            break
        }
        return output
    }

    private static func value(of byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): byte - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): byte - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0") + 52
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }
}
