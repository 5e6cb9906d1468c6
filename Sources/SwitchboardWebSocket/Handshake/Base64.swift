/// Standard base64 with padding (RFC 4648 §4), the alphabet RFC 6455 uses for `Sec-WebSocket-Key` and
/// `Sec-WebSocket-Accept`. Written here so that the engine needs no Foundation.
enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// The 6-bit value of each alphabet byte, or 0xFF for any other byte.
    private static let decodingTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    static func encode<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let input = Array(bytes)
        var output: [UInt8] = []
        output.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= input.count {
            let chunk = UInt32(input[index]) << 16 | UInt32(input[index + 1]) << 8 | UInt32(input[index + 2])
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(alphabet[Int(chunk >> 6 & 0x3F)])
            output.append(alphabet[Int(chunk & 0x3F)])
            index += 3
        }
        let remaining = input.count - index
        if remaining > 0 {
            let chunk = UInt32(input[index]) << 16 | (remaining == 2 ? UInt32(input[index + 1]) << 8 : 0)
            output.append(alphabet[Int(chunk >> 18 & 0x3F)])
            output.append(alphabet[Int(chunk >> 12 & 0x3F)])
            output.append(remaining == 2 ? alphabet[Int(chunk >> 6 & 0x3F)] : UInt8(ascii: "="))
            output.append(UInt8(ascii: "="))
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes padded base64, or returns nil for anything that is not: a length that is not a multiple
    /// of 4, a byte outside the alphabet, whitespace, or padding anywhere but at the end.
    ///
    /// Non-zero bits under the padding are tolerated (RFC 4648 §3.5 allows decoders to ignore them);
    /// the handshake only needs to know that the key decodes to 16 bytes.
    static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var padding = 0
        if input.last == UInt8(ascii: "=") { padding += 1 }
        if input.count >= 2 && input[input.count - 2] == UInt8(ascii: "=") { padding += 1 }
        var output: [UInt8] = []
        output.reserveCapacity(input.count / 4 * 3)
        var index = 0
        while index < input.count {
            var chunk: UInt32 = 0
            for offset in 0..<4 {
                let byte = input[index + offset]
                let isPadding = index + 4 == input.count && offset >= 4 - padding
                if isPadding {
                    chunk <<= 6
                    continue
                }
                let value = decodingTable[Int(byte)]
                guard value != 0xFF else { return nil }
                chunk = chunk << 6 | UInt32(value)
            }
            output.append(UInt8(truncatingIfNeeded: chunk >> 16))
            output.append(UInt8(truncatingIfNeeded: chunk >> 8))
            output.append(UInt8(truncatingIfNeeded: chunk))
            index += 4
        }
        output.removeLast(padding)
        return output
    }
}
