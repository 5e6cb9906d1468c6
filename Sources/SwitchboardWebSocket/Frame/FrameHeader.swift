/// The fixed part of a frame (RFC 6455 §5.2): everything but the payload bytes.
public struct FrameHeader: Sendable, Hashable {
    /// FIN: this frame ends a message.
    public var isFinal: Bool
    /// RSV1–RSV3 as the three low bits (RSV1 = 0b100). RSV1 marks a compressed message (RFC 7692 §6).
    public var reservedBits: UInt8
    public var opcode: Opcode
    /// The masking key; clients mask every frame, servers never do (RFC 6455 §5.3).
    public var maskingKey: MaskingKey?
    public var payloadLength: Int

    @inlinable
    public init(isFinal: Bool = true, reservedBits: UInt8 = 0, opcode: Opcode, maskingKey: MaskingKey? = nil, payloadLength: Int) {
        self.isFinal = isFinal
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payloadLength = payloadLength
    }

    /// RSV1: the permessage-deflate "Per-Message Compressed" bit (RFC 7692 §6).
    @inlinable
    public var isCompressed: Bool { self.reservedBits & 0b100 != 0 }

    /// The number of bytes the header takes on the wire: 2, plus 2 or 8 for the extended length, plus 4 for a mask.
    @inlinable
    public var encodedSize: Int {
        var size = 2
        if self.payloadLength > 0xFFFF {
            size += 8
        } else if self.payloadLength > 125 {
            size += 2
        }
        if self.maskingKey != nil { size += 4 }
        return size
    }
}
