import NIOCore

/// Writes frames (RFC 6455 §5.2) into a `ByteBuffer`.
public enum FrameEncoder {
    /// Appends the header of `header` to `output`.
    @inlinable
    public static func writeHeader(_ header: FrameHeader, into output: inout ByteBuffer) {
        let first = (header.isFinal ? 0x80 : 0) | (header.reservedBits & 0x7) << 4 | header.opcode.rawValue
        let maskBit: UInt8 = header.maskingKey == nil ? 0 : 0x80
        let length = header.payloadLength
        if length <= 125 {
            output.writeMultipleIntegers(first, maskBit | UInt8(length))
        } else if length <= 0xFFFF {
            output.writeMultipleIntegers(first, maskBit | 126, UInt16(length))
        } else {
            output.writeMultipleIntegers(first, maskBit | 127, UInt64(length))
        }
        if let key = header.maskingKey {
            let bytes = key.bytes
            output.writeMultipleIntegers(bytes.0, bytes.1, bytes.2, bytes.3)
        }
    }

    /// Appends a whole frame: `header` followed by `payload`, masked with the header's key if it has one.
    @inlinable
    public static func writeFrame(_ header: FrameHeader, payload: ByteBuffer, into output: inout ByteBuffer) {
        precondition(header.payloadLength == payload.readableBytes, "Internal inconsistency: frame length mismatch")
        output.reserveCapacity(minimumWritableBytes: header.encodedSize + payload.readableBytes)
        writeHeader(header, into: &output)
        if let key = header.maskingKey {
            let count = payload.readableBytes
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { destination in
                payload.withUnsafeReadableBytes { source in
                    _ = Masking.copy(source, to: destination, key: key)
                }
                return count
            }
        } else {
            output.writeImmutableBuffer(payload)
        }
    }
}
