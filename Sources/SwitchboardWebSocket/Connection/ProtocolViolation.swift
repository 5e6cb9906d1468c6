/// Something the peer did that fails the connection, and the close code it earns; or, for
/// ``inflaterFailed`` alone, a fault of ours that fails it the same way but says so (1011).
///
/// One table for every violation the engine detects (STYLE rule 5): the engine sends a close frame with
/// ``closeCode`` and reports ``reason`` locally; the reason is not sent to the peer beyond the code.
enum ProtocolViolation: Error, Sendable, Hashable {
    case reservedOpcode(UInt8)
    case reservedBitsSet(UInt8)
    case nonMinimalLength
    case lengthOutOfRange
    case unmaskedClientFrame
    case maskedServerFrame
    case fragmentedControlFrame
    case controlFrameTooLong(Int)
    case unexpectedContinuation
    case expectedContinuation
    case compressedContinuation
    case frameTooLarge(Int, limit: Int)
    case messageTooLarge(limit: Int)
    case invalidUTF8
    case invalidCloseCode(UInt16)
    case closePayloadOfOneByte
    case invalidCloseReason
    case corruptCompressedData
    /// Not the peer's fault: our inflater failed (zlib could not allocate, or reported an inconsistency).
    case inflaterFailed

    var closeCode: CloseCode {
        switch self {
        case .frameTooLarge, .messageTooLarge: return .messageTooBig
        case .invalidUTF8, .invalidCloseReason: return .invalidPayloadData
        // RFC 6455 §7.4.1: 1011, "an unexpected condition that prevented it from fulfilling the request".
        case .inflaterFailed: return .internalError
        default: return .protocolError
        }
    }

    var reason: String {
        switch self {
        case .reservedOpcode(let opcode): return "reserved opcode 0x\(String(opcode, radix: 16))"
        case .reservedBitsSet(let bits): return "reserved bits 0b\(String(bits, radix: 2)) set without an extension that defines them"
        case .nonMinimalLength: return "payload length not in its minimal encoding"
        case .lengthOutOfRange: return "64-bit payload length with its most significant bit set"
        case .unmaskedClientFrame: return "unmasked frame from a client"
        case .maskedServerFrame: return "masked frame from a server"
        case .fragmentedControlFrame: return "fragmented control frame"
        case .controlFrameTooLong(let length): return "control frame payload of \(length) bytes (limit 125)"
        case .unexpectedContinuation: return "continuation frame with no message in progress"
        case .expectedContinuation: return "new data frame while a fragmented message is in progress"
        case .compressedContinuation: return "RSV1 set on a continuation frame"
        case .frameTooLarge(let length, let limit): return "frame payload of \(length) bytes exceeds the limit of \(limit)"
        case .messageTooLarge(let limit): return "message exceeds the limit of \(limit) bytes"
        case .invalidUTF8: return "invalid UTF-8 in a text message"
        case .invalidCloseCode(let code): return "close code \(code) may not be sent on the wire"
        case .closePayloadOfOneByte: return "close frame payload of one byte"
        case .invalidCloseReason: return "close reason is not valid UTF-8"
        case .corruptCompressedData: return "compressed message cannot be inflated"
        case .inflaterFailed: return "the inflater failed on our side"
        }
    }
}
