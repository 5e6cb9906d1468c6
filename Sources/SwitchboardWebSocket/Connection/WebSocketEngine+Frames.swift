import NIOCore

// MARK: - Frame boundaries

extension WebSocketEngine {
    enum FrameStart {
        case needMoreBytes
        case data(FrameHeader)
        /// A whole control frame; its payload is still masked.
        case control(FrameHeader, ByteBuffer)
        /// The frame's header is consumed; `unreadPayload` bytes of it remain (Int.max: framing is lost).
        case violation(ProtocolViolation, unreadPayload: Int)
    }

    /// Reads a data frame's header, or a whole control frame, from `input` (and from ``partialFrame`` when
    /// one straddles reads). Only the bytes of that unit are consumed.
    mutating func readFrameStart(_ input: inout ByteBuffer) -> FrameStart {
        if self.partialFrame.readableBytes == 0 {
            let parsed = input.withUnsafeReadableBytes { FrameHeaderParser.parse($0) }
            switch parsed {
            case .violation(let violation, let extent):
                guard let extent else { return .violation(violation, unreadPayload: .max) }
                input.moveReaderIndex(forwardBy: extent.encodedSize)
                return .violation(violation, unreadPayload: extent.payloadLength)
            case .incomplete:
                // Every read ends here with nothing left: writing no bytes would still give the idle
                // connection a buffer of its own.
                if input.readableBytes > 0 { self.partialFrame.writeBuffer(&input) }
                return .needMoreBytes
            case .header(let header, let size):
                if header.opcode.isControl {
                    guard header.payloadLength <= 125 else {
                        input.moveReaderIndex(forwardBy: size)
                        return .violation(.controlFrameTooLong(header.payloadLength), unreadPayload: header.payloadLength)
                    }
                    guard input.readableBytes >= size + header.payloadLength else {
                        self.partialFrame.writeBuffer(&input)
                        return .needMoreBytes
                    }
                    input.moveReaderIndex(forwardBy: size)
                    return .control(header, input.readSlice(length: header.payloadLength)!)
                }
                input.moveReaderIndex(forwardBy: size)
                return .data(header)
            }
        }
        // Slow path: top up the partial frame with just the bytes it still needs.
        while true {
            let parsed = self.partialFrame.withUnsafeReadableBytes { FrameHeaderParser.parse($0) }
            var needed: Int
            switch parsed {
            case .violation(let violation, let extent):
                self.partialFrame.clear()
                return .violation(violation, unreadPayload: extent?.payloadLength ?? .max)
            case .incomplete(let total):
                needed = total
            case .header(let header, let size):
                if !header.opcode.isControl {
                    self.partialFrame.clear()
                    return .data(header)
                }
                guard header.payloadLength <= 125 else {
                    self.partialFrame.clear()
                    return .violation(.controlFrameTooLong(header.payloadLength), unreadPayload: header.payloadLength)
                }
                needed = size + header.payloadLength
                if self.partialFrame.readableBytes >= needed {
                    self.partialFrame.moveReaderIndex(forwardBy: size)
                    let payload = ByteBuffer(buffer: self.partialFrame.readSlice(length: header.payloadLength)!)
                    self.partialFrame.clear()
                    return .control(header, payload)
                }
            }
            let missing = needed - self.partialFrame.readableBytes
            guard missing > 0, input.readableBytes > 0 else { return .needMoreBytes }
            var piece = input.readSlice(length: min(missing, input.readableBytes))!
            self.partialFrame.writeBuffer(&piece)
        }
    }

    /// Applies the rules every frame header must meet on this connection.
    func violation(in header: FrameHeader) -> ProtocolViolation? {
        // RFC 6455 §5.2: RSV bits "MUST be 0 unless an extension is negotiated that defines meanings";
        // RFC 7692 §6.1: RSV1 only on the first frame of a data message, never on control frames.
        let reserved = header.reservedBits & ~(header.opcode.isControl ? 0 : self.allowedReservedBits)
        if reserved != 0 { return .reservedBitsSet(reserved) }
        // RFC 6455 §5.1: a server MUST close on an unmasked frame; a client MUST close on a masked one.
        switch self.role {
        case .server where header.maskingKey == nil: return .unmaskedClientFrame
        case .client where header.maskingKey != nil: return .maskedServerFrame
        default: break
        }
        // RFC 6455 §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
        if header.opcode.isControl && !header.isFinal { return .fragmentedControlFrame }
        return nil
    }
}
