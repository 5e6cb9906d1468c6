import NIOCore

// MARK: - Data frames and message assembly

extension WebSocketEngine {
    /// Checks a data frame's header against the message in progress and starts streaming its payload.
    mutating func receivedDataFrameHeader(_ header: FrameHeader, output: inout ByteBuffer) -> WebSocketAction? {
        if case .closeSent(failed: true) = self.state {
            self.frameState = .skippingPayload(remaining: header.payloadLength)
            return nil
        }
        if let violation = self.dataFrameViolation(header) {
            return self.fail(violation, output: &output, unreadPayload: header.payloadLength)
        }
        if case .idle = self.messageState {
            self.startMessage(isText: header.opcode == .text, isCompressed: header.isCompressed,
                              expectedSize: header.isFinal ? header.payloadLength : 0)
        }
        self.frameState = .dataPayload(remaining: header.payloadLength, maskingKey: header.maskingKey, maskOffset: 0, isFinal: header.isFinal)
        return nil
    }

    /// The rules a data frame must meet given the message in progress (RFC 6455 §5.4) and the limits.
    func dataFrameViolation(_ header: FrameHeader) -> ProtocolViolation? {
        if let violation = self.violation(in: header) { return violation }
        guard header.payloadLength <= self.limits.maximumFrameSize else {
            return .frameTooLarge(header.payloadLength, limit: self.limits.maximumFrameSize)
        }
        switch (self.messageState, header.opcode) {
        case (.idle, .continuation):
            return .unexpectedContinuation
        case (.receiving, .text), (.receiving, .binary):
            return .expectedContinuation
        case (.receiving(_, let isCompressed, _), _):
            if header.isCompressed { return .compressedContinuation }
            if !isCompressed && self.message.readableBytes + header.payloadLength > self.limits.maximumMessageSize {
                return .messageTooLarge(limit: self.limits.maximumMessageSize)
            }
        case (.idle, _):
            if !header.isCompressed && header.payloadLength > self.limits.maximumMessageSize {
                return .messageTooLarge(limit: self.limits.maximumMessageSize)
            }
        }
        return nil
    }

    /// Readies ``message`` for a new message, reusing its storage when no earlier message still uses it.
    mutating func startMessage(isText: Bool, isCompressed: Bool, expectedSize: Int) {
        let capacity = isCompressed ? max(expectedSize * 2, 256) : expectedSize
        // Keep a big buffer only while messages stay big, so one large message does not pin memory.
        if self.message.capacity > 64 << 10 && self.message.capacity > 4 * capacity {
            self.message = ByteBuffer()
        }
        if self.message.capacity == 0 {
            self.message = ByteBufferAllocator().buffer(capacity: max(capacity, 64))
        } else {
            self.message.clear(minimumCapacity: capacity)
        }
        self.messageState = .receiving(isText: isText, isCompressed: isCompressed, validator: UTF8Validator())
    }

    /// Moves `count` payload bytes from `input` into the message: unmasked in the same pass as the copy,
    /// inflated when compressed, and validated as UTF-8 as they arrive when the message is text.
    mutating func appendPayload(_ input: inout ByteBuffer, count: Int, key: MaskingKey?, offset: Int) -> ProtocolViolation? {
        guard case .receiving(let isText, let isCompressed, var validator) = self.messageState else {
            preconditionFailure("Internal inconsistency: payload without a message in progress")
        }
        if isCompressed {
            let compression = self.compression!
            compression.chunk.clear(minimumCapacity: count)
            Self.copyUnmasking(&input, count: count, key: key, offset: offset, into: &compression.chunk)
            let before = self.message.writerIndex
            do {
                try compression.decompress(into: &self.message, limit: self.limits.maximumMessageSize)
            } catch {
                return self.inflationViolation(error, isText: isText, validator: &validator, from: before)
            }
            if isText && !Self.validate(&validator, self.message, from: before) { return .invalidUTF8 }
        } else {
            let before = self.message.writerIndex
            let allASCII = Self.copyUnmasking(&input, count: count, key: key, offset: offset, into: &self.message)
            if isText && !(allASCII && validator.isComplete) && !Self.validate(&validator, self.message, from: before) {
                return .invalidUTF8
            }
        }
        self.messageState = .receiving(isText: isText, isCompressed: isCompressed, validator: validator)
        return nil
    }

    /// Finishes the message after its final frame: flushes the inflater and checks the text ends whole.
    mutating func completeMessage() -> Result<WebSocketEvent, ProtocolViolation> {
        guard case .receiving(let isText, let isCompressed, var validator) = self.messageState else {
            preconditionFailure("Internal inconsistency: message end without a message in progress")
        }
        self.messageState = .idle
        if isCompressed {
            let before = self.message.writerIndex
            do {
                try self.compression!.finishMessage(into: &self.message, limit: self.limits.maximumMessageSize)
            } catch {
                return .failure(self.inflationViolation(error, isText: isText, validator: &validator, from: before))
            }
            if isText && !Self.validate(&validator, self.message, from: before) { return .failure(.invalidUTF8) }
        }
        // RFC 6455 §8.1: the whole message must be valid UTF-8, so it may not end inside a code point.
        if isText && !validator.isComplete { return .failure(.invalidUTF8) }
        let payload = self.message.readSlice(length: self.message.readableBytes)!
        return .success(isText ? .text(payload) : .binary(payload))
    }

    @discardableResult
    static func copyUnmasking(_ input: inout ByteBuffer, count: Int, key: MaskingKey?, offset: Int, into destination: inout ByteBuffer) -> Bool {
        guard count > 0 else { return true }
        var allASCII = true
        input.withUnsafeReadableBytes { source in
            let chunk = UnsafeRawBufferPointer(rebasing: source[..<count])
            destination.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
                allASCII = Masking.copy(chunk, to: target, key: key, offset: offset)
                return count
            }
        }
        input.moveReaderIndex(forwardBy: count)
        return allASCII
    }

    static func validate(_ validator: inout UTF8Validator, _ buffer: ByteBuffer, from index: Int, to end: Int? = nil) -> Bool {
        let count = (end ?? buffer.writerIndex) - index
        guard count > 0 else { return true }
        return buffer.withUnsafeReadableBytes { bytes in
            let start = index - buffer.readerIndex
            return validator.validate(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + count)]))
        }
    }

    /// The violation a failed inflation earns, decided so that it does not depend on how the peer's payload
    /// was split across reads (whole and chunked feedings must give the same events).
    ///
    /// zlib writes everything it decoded before it meets corrupt data or runs past the limit, and that
    /// decoded prefix is the same however the compressed bytes arrived; had the prefix come in a read of its
    /// own, it would have been validated before the rest was seen. So the failures are ranked by where they
    /// sit in the decoded message: invalid UTF-8 within the first `limit` bytes (1007), then a message over
    /// the limit (1009), then corrupt data (1002).
    mutating func inflationViolation(_ error: any Error, isText: Bool, validator: inout UTF8Validator, from index: Int) -> ProtocolViolation {
        let limit = self.limits.maximumMessageSize
        let end = min(self.message.writerIndex, self.message.readerIndex + limit)
        if isText && end > index && !Self.validate(&validator, self.message, from: index, to: end) {
            return .invalidUTF8
        }
        if self.message.readableBytes > limit { return .messageTooLarge(limit: limit) }
        return Self.violation(for: error, limit: limit)
    }

    static func violation(for error: any Error, limit: Int) -> ProtocolViolation {
        switch error as? DeflateFailure {
        case .messageTooLarge?: return .messageTooLarge(limit: limit)
        case .compressorFailure?: return .inflaterFailed
        default: return .corruptCompressedData
        }
    }
}
