/// A frame's 32-bit masking key (RFC 6455 §5.3), in wire order.
///
/// The engine never invents keys: a client engine asks its ``MaskingKeySource`` for one per frame, so the
/// transport decides where the entropy comes from.
public struct MaskingKey: Sendable, Hashable {
    /// The four key bytes packed in wire order into the low-address bytes of a little-endian word,
    /// so that loading four payload bytes as a `UInt32` and XOR-ing with this value unmasks them.
    @usableFromInline
    let word: UInt32

    @inlinable
    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        self.word = UInt32(b0) | UInt32(b1) << 8 | UInt32(b2) << 16 | UInt32(b3) << 24
    }

    /// Builds a key from 32 random bits (e.g. `UInt32.random(in:)` in the transport).
    @inlinable
    public init(randomBits: UInt32) {
        self.word = randomBits
    }

    /// The key bytes in wire order.
    @inlinable
    public var bytes: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: word), UInt8(truncatingIfNeeded: word >> 8),
         UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 24))
    }

    /// The key rotated so that masking starts `offset` bytes into the 4-byte cycle.
    @inlinable
    func rotated(by offset: Int) -> UInt32 {
        let shift = UInt32((offset & 3) * 8)
        return shift == 0 ? word : (word >> shift) | (word << (32 - shift))
    }
}

/// Where a client engine gets the masking key of each frame it sends (RFC 6455 §10.3: keys must be
/// unpredictable, so production transports draw them from a cryptographic source).
public protocol MaskingKeySource {
    mutating func nextMaskingKey() -> MaskingKey
}
