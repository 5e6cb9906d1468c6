/// A frame opcode (RFC 6455 §5.2).
///
/// Reserved opcodes (0x3–0x7, 0xB–0xF) have no case: the decoder fails the connection with 1002 when it
/// meets one, so an `Opcode` value is always one the protocol defines.
public enum Opcode: UInt8, Sendable, Hashable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames have the high bit of the opcode set (RFC 6455 §5.5).
    @inlinable
    public var isControl: Bool { self.rawValue & 0x8 != 0 }
}
