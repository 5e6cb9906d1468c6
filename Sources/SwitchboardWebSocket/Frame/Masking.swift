// The word-at-a-time loops rely on a native load putting the first byte in memory into the low bits of
// the word (the key is packed that way, and the tail loops shift it out low byte first). Every Swift server
// platform is little-endian; refuse to build elsewhere rather than mask wrongly.
#if _endian(big)
#error("SwitchboardWebSocket's masking assumes a little-endian host")
#endif

/// Masking and unmasking (RFC 6455 §5.3): `transformed[i] = original[i] XOR key[i mod 4]`.
///
/// Both loops work a machine word at a time; the copying variant also reports whether every byte it
/// wrote was ASCII, so text validation can skip the bytes it has already seen (one pass over memory).
public enum Masking {
    /// XORs `bytes` in place with `key`, starting `offset` bytes into the key's cycle.
    @inlinable
    public static func apply(_ key: MaskingKey, to bytes: UnsafeMutableRawBufferPointer, offset: Int = 0) {
        guard let base = bytes.baseAddress else { return }
        let count = bytes.count
        let key32 = key.rotated(by: offset)
        let key64 = UInt64(key32) | UInt64(key32) << 32
        var index = 0
        let key128 = SIMD2<UInt64>(repeating: key64)
        while index + 64 <= count {
            let p = base + index
            p.storeBytes(of: p.loadUnaligned(as: SIMD2<UInt64>.self) ^ key128, as: SIMD2<UInt64>.self)
            (p + 16).storeBytes(of: (p + 16).loadUnaligned(as: SIMD2<UInt64>.self) ^ key128, as: SIMD2<UInt64>.self)
            (p + 32).storeBytes(of: (p + 32).loadUnaligned(as: SIMD2<UInt64>.self) ^ key128, as: SIMD2<UInt64>.self)
            (p + 48).storeBytes(of: (p + 48).loadUnaligned(as: SIMD2<UInt64>.self) ^ key128, as: SIMD2<UInt64>.self)
            index += 64
        }
        while index + 8 <= count {
            let p = base + index
            p.storeBytes(of: p.loadUnaligned(as: UInt64.self) ^ key64, as: UInt64.self)
            index += 8
        }
        var tail = key64
        while index < count {
            base.storeBytes(of: base.load(fromByteOffset: index, as: UInt8.self) ^ UInt8(truncatingIfNeeded: tail),
                            toByteOffset: index, as: UInt8.self)
            tail >>= 8
            index += 1
        }
    }

    /// Copies `source` to `destination` (same count) XOR-ing with `key` from `offset` into its cycle;
    /// returns true when every copied byte is ASCII (high bit clear).
    @inlinable
    @discardableResult
    public static func copy(_ source: UnsafeRawBufferPointer, to destination: UnsafeMutableRawBufferPointer,
                            key: MaskingKey?, offset: Int = 0) -> Bool {
        precondition(destination.count >= source.count, "Internal inconsistency: masking destination too small")
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return true }
        let count = source.count
        let key64: UInt64
        if let key {
            let key32 = key.rotated(by: offset)
            key64 = UInt64(key32) | UInt64(key32) << 32
        } else {
            key64 = 0
        }
        var highBits: UInt64 = 0
        var index = 0
        // 64 bytes per round in 128-bit vectors (SSE2/NEON, the baseline every Swift target has).
        let key128 = SIMD2<UInt64>(repeating: key64)
        var highBits128 = SIMD2<UInt64>(repeating: 0)
        while index + 64 <= count {
            let a = (src + index).loadUnaligned(as: SIMD2<UInt64>.self) ^ key128
            let b = (src + index + 16).loadUnaligned(as: SIMD2<UInt64>.self) ^ key128
            let c = (src + index + 32).loadUnaligned(as: SIMD2<UInt64>.self) ^ key128
            let d = (src + index + 48).loadUnaligned(as: SIMD2<UInt64>.self) ^ key128
            (dst + index).storeBytes(of: a, as: SIMD2<UInt64>.self)
            (dst + index + 16).storeBytes(of: b, as: SIMD2<UInt64>.self)
            (dst + index + 32).storeBytes(of: c, as: SIMD2<UInt64>.self)
            (dst + index + 48).storeBytes(of: d, as: SIMD2<UInt64>.self)
            highBits128 |= a | b | c | d
            index += 64
        }
        highBits = highBits128[0] | highBits128[1]
        while index + 8 <= count {
            let a = (src + index).loadUnaligned(as: UInt64.self) ^ key64
            (dst + index).storeBytes(of: a, as: UInt64.self)
            highBits |= a
            index += 8
        }
        var tail = key64
        var highByte: UInt8 = 0
        while index < count {
            let byte = src.load(fromByteOffset: index, as: UInt8.self) ^ UInt8(truncatingIfNeeded: tail)
            dst.storeBytes(of: byte, toByteOffset: index, as: UInt8.self)
            highByte |= byte
            tail >>= 8
            index += 1
        }
        return (highBits & 0x8080_8080_8080_8080) == 0 && highByte & 0x80 == 0
    }
}
