import NIOCore

// MARK: - Control frames and closing

extension WebSocketEngine {
    /// Handles a whole ping, pong or close frame (RFC 6455 §5.5).
    mutating func receivedControlFrame(_ header: FrameHeader, payload masked: ByteBuffer, output: inout ByteBuffer) -> WebSocketAction? {
        let failed: Bool
        if case .closeSent(failed: true) = self.state { failed = true } else { failed = false }
        if !failed, let violation = self.violation(in: header) {
            return self.fail(violation, output: &output, unreadPayload: 0)
        }
        var payload = masked
        if let key = header.maskingKey {
            // Control payloads are ≤ 125 bytes: unmask a private copy.
            var source = masked
            payload = ByteBufferAllocator().buffer(capacity: masked.readableBytes)
            Self.copyUnmasking(&source, count: masked.readableBytes, key: key, offset: 0, into: &payload)
        }
        switch header.opcode {
        case .ping:
            guard self.state == .open else { return nil }
            // RFC 6455 §5.5.2: "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in response ...
            // [with] identical Application data".
            self.writeControlFrame(.pong, payload: payload, output: &output)
            return .deliver(.ping(payload))
        case .pong:
            return failed ? nil : .deliver(.pong(payload))
        case .close:
            return self.receivedClose(payload, output: &output)
        default:
            preconditionFailure("Internal inconsistency: \(header.opcode) is not a control opcode")
        }
    }

    /// The peer's close frame: validate it, answer it if we have not closed yet, and finish.
    mutating func receivedClose(_ payload: ByteBuffer, output: inout ByteBuffer) -> WebSocketAction {
        var payload = payload
        var code = CloseCode.noStatusReceived
        var reason = ""
        var violation: ProtocolViolation? = nil
        switch payload.readableBytes {
        case 0:
            break
        case 1:
            // RFC 6455 §5.5.1: a close body, if present, starts with a 2-byte status code.
            violation = .closePayloadOfOneByte
        default:
            code = CloseCode(payload.readInteger(as: UInt16.self)!)
            if !code.isSendable {
                violation = .invalidCloseCode(code.rawValue)
            } else {
                var validator = UTF8Validator()
                let valid = payload.withUnsafeReadableBytes { validator.validate($0) } && validator.isComplete
                if valid { reason = payload.readString(length: payload.readableBytes)! } else { violation = .invalidCloseReason }
            }
        }
        switch self.state {
        case .open:
            if let violation {
                // The peer's close was itself broken: answer with the violation's code and stop.
                self.writeCloseFrame(code: violation.closeCode, reason: "", output: &output)
                self.finishClosing()
                return .deliver(.protocolViolation(violation.closeCode, reason: violation.reason))
            }
            // RFC 6455 §5.5.1: "the endpoint typically echos the status code it received"; a close without a
            // code is answered with 1000.
            self.writeCloseFrame(code: code == .noStatusReceived ? .normalClosure : code, reason: "", output: &output)
            self.finishClosing()
            return .deliver(.close(code, reason: reason))
        case .closeSent:
            self.finishClosing()
            return .deliver(.close(code, reason: reason))
        case .closed:
            preconditionFailure("Internal inconsistency: frames read after close")
        }
    }

    /// Both close frames have gone by. RFC 6455 §7.1.1: the server closes TCP first; a client waits for it
    /// (bounded by the close timer).
    mutating func finishClosing() {
        let wasOpen = self.state == .open
        self.state = .closed
        self.messageState = .idle
        switch self.role {
        case .server: self.owedAction = .closeTransport
        case .client: self.owedAction = wasOpen ? .startCloseTimer : nil
        }
    }

    /// Fails the connection (RFC 6455 §7.1.7): sends a close frame with the violation's code, then skips
    /// the peer's frames until its close arrives or the close timer fires. `unreadPayload` is what is left
    /// of the offending frame. Returns nil when the connection had already failed (nothing new to report).
    mutating func fail(_ violation: ProtocolViolation, output: inout ByteBuffer, unreadPayload: Int) -> WebSocketAction? {
        self.messageState = .idle
        self.frameState = unreadPayload > 0 ? .skippingPayload(remaining: unreadPayload) : .awaitingHeader
        switch self.state {
        case .open:
            self.writeCloseFrame(code: violation.closeCode, reason: "", output: &output)
            self.state = .closeSent(failed: true)
            self.owedAction = .startCloseTimer
        case .closeSent(failed: false):
            // Our close frame is already out; just stop reading the peer's frames.
            self.state = .closeSent(failed: true)
        case .closeSent(failed: true), .closed:
            return nil
        }
        return .deliver(.protocolViolation(violation.closeCode, reason: violation.reason))
    }

    mutating func writeCloseFrame(code: CloseCode, reason: String, output: inout ByteBuffer) {
        var payload = ByteBufferAllocator().buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code.rawValue)
        payload.writeString(reason)
        self.writeControlFrame(.close, payload: payload, output: &output)
    }

    mutating func writeControlFrame(_ opcode: Opcode, payload: ByteBuffer, output: inout ByteBuffer) {
        let header = FrameHeader(opcode: opcode, maskingKey: self.nextMaskingKey(), payloadLength: payload.readableBytes)
        FrameEncoder.writeFrame(header, payload: payload, into: &output)
    }

    mutating func nextMaskingKey() -> MaskingKey? {
        guard self.role == .client else { return nil }
        return self.maskingKeys!.source.nextMaskingKey()
    }

    mutating func sendCompressed(_ opcode: Opcode, payload: ByteBuffer, output: inout ByteBuffer) throws(WebSocketError) {
        let compression = self.compression!
        compression.chunk.clear(minimumCapacity: payload.readableBytes / 2 + 64)
        do {
            try compression.compress(payload)
        } catch {
            throw .compressionFailed
        }
        // RFC 7692 §6.1: RSV1 on the first (here: only) frame marks a compressed message.
        let header = FrameHeader(reservedBits: 0b100, opcode: opcode, maskingKey: self.nextMaskingKey(),
                                 payloadLength: compression.chunk.readableBytes)
        FrameEncoder.writeFrame(header, payload: compression.chunk, into: &output)
        if compression.chunk.capacity > 64 << 10 { compression.chunk = ByteBuffer() }
    }

    mutating func releaseBuffers() {
        self.message = ByteBuffer()
        self.partialFrame = ByteBuffer()
        if let compression = self.compression {
            compression.chunk = ByteBuffer()
            compression.decompressor = nil
            compression.compressor = nil
        }
    }
}
