import Testing
@testable import SwitchboardWebSocket

@Suite struct MaskingTests {
    /// RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d is 7f 9f 4d 51 58.
    @Test func rfcMaskedHelloVector() {
        var bytes: [UInt8] = Array("Hello".utf8)
        let key = MaskingKey(0x37, 0xFA, 0x21, 0x3D)
        bytes.withUnsafeMutableBytes { Masking.apply(key, to: $0) }
        #expect(bytes == [0x7F, 0x9F, 0x4D, 0x51, 0x58])
    }

    @Test(arguments: [0, 1, 7, 8, 31, 32, 33, 100, 1000])
    func maskingTwiceIsIdentityAtEveryOffset(count: Int) {
        let original = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let key = MaskingKey(0x01, 0x80, 0xFE, 0x42)
        for offset in 0..<4 {
            var bytes = original
            bytes.withUnsafeMutableBytes { Masking.apply(key, to: $0, offset: offset) }
            // Reference: byte-by-byte per RFC 6455 §5.3.
            let keyBytes = [key.bytes.0, key.bytes.1, key.bytes.2, key.bytes.3]
            let expected = original.enumerated().map { $0.element ^ keyBytes[($0.offset + offset) % 4] }
            #expect(bytes == expected)
            var copied = [UInt8](repeating: 0, count: count)
            let ascii = original.withUnsafeBytes { src in copied.withUnsafeMutableBytes { Masking.copy(src, to: $0, key: key, offset: offset) } }
            #expect(copied == expected)
            #expect(ascii == expected.allSatisfy { $0 < 0x80 })
        }
    }
}
