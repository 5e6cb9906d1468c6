/// Parses the fixed part of a frame (RFC 6455 §5.2) from contiguous bytes.
///
/// Only the rules that hold whatever the role and extensions are enforced here (reserved opcodes, the
/// length encoding); masking, RSV bits and control-frame rules depend on the connection and live in
/// ``WebSocketEngine``. A violation still reports the frame's extent when it is readable, so the engine
/// can skip the frame and keep its place in the stream while it waits for the peer's close.
enum FrameHeaderParser {
    enum Result {
        /// At least `needed` bytes are required in total before the header can be read.
        case incomplete(needed: Int)
        case header(FrameHeader, encodedSize: Int)
        /// `extent` is (header size, payload length), or nil when the length itself is unreadable.
        case violation(ProtocolViolation, extent: (encodedSize: Int, payloadLength: Int)?)
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) -> Result {
        guard bytes.count >= 2 else { return .incomplete(needed: 2) }
        let first = bytes[0]
        let second = bytes[1]
        let masked = second & 0x80 != 0
        var size = 2
        var length = Int(second & 0x7F)
        var minimal = true
        if length == 126 {
            size = 4
            guard bytes.count >= size else { return .incomplete(needed: size + (masked ? 4 : 0)) }
            length = Int(bytes[2]) << 8 | Int(bytes[3])
            minimal = length > 125
        } else if length == 127 {
            size = 10
            guard bytes.count >= size else { return .incomplete(needed: size + (masked ? 4 : 0)) }
            var wide: UInt64 = 0
            for index in 2..<10 { wide = wide << 8 | UInt64(bytes[index]) }
            // RFC 6455 §5.2: "the most significant bit MUST be 0". Nothing this large can be skipped.
            guard wide & (1 << 63) == 0 else { return .violation(.lengthOutOfRange, extent: nil) }
            length = Int(wide)
            minimal = wide > 0xFFFF
        }
        var key: MaskingKey? = nil
        if masked {
            guard bytes.count >= size + 4 else { return .incomplete(needed: size + 4) }
            key = MaskingKey(bytes[size], bytes[size + 1], bytes[size + 2], bytes[size + 3])
            size += 4
        }
        // RFC 6455 §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
        guard let opcode = Opcode(rawValue: first & 0x0F) else {
            return .violation(.reservedOpcode(first & 0x0F), extent: (size, length))
        }
        // RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the length".
        guard minimal else { return .violation(.nonMinimalLength, extent: (size, length)) }
        let header = FrameHeader(isFinal: first & 0x80 != 0, reservedBits: (first >> 4) & 0x7, opcode: opcode,
                                 maskingKey: key, payloadLength: length)
        return .header(header, encodedSize: size)
    }
}
