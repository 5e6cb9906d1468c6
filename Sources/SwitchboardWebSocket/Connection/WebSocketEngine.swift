import NIOCore

/// The sans-I/O state machine of one WebSocket connection after its opening handshake (RFC 6455 §5–§7,
/// RFC 7692 §6–§7).
///
/// Feed it what arrived with ``receive(_:output:)`` until it answers ``WebSocketAction/needMoreBytes``;
/// send with ``send(_:payload:output:)``, ``ping(_:output:)`` and ``close(code:reason:output:)``. Bytes for
/// the peer are appended to an `output` buffer the transport owns, so one read batch ends in one write.
/// The engine has no clock and no randomness: a client engine gets masking keys from its
/// ``MaskingKeySource``, and close deadlines are the transport's timers (``WebSocketAction/startCloseTimer``).
///
/// Receiving never throws: a peer's violation becomes a close frame with the right code and a
/// ``WebSocketEvent/protocolViolation(_:reason:)`` event. A caller's misuse throws ``WebSocketError``.
public struct WebSocketEngine {
    /// The close handshake (RFC 6455 §7): open → closeSent → closed, or open → closed when the peer starts
    /// it (the engine answers a close frame at once, so "close received" has no lifetime of its own).
    enum State: Sendable, Hashable {
        case open
        /// We sent a close frame and wait for the peer's. `failed`: we closed because the peer broke the
        /// protocol, so its further frames are skipped unread until its close frame.
        case closeSent(failed: Bool)
        /// Both close frames went by (or the transport ended). A client still waits for the server to close
        /// TCP (RFC 6455 §7.1.1); nothing more is read or sent.
        case closed
    }

    /// Where the reader is inside the frame stream.
    enum FrameState: Sendable, Hashable {
        case awaitingHeader
        /// Streaming a data frame's payload into the message being assembled.
        case dataPayload(remaining: Int, maskingKey: MaskingKey?, maskOffset: Int, isFinal: Bool)
        /// Skipping a frame's payload unread (after a failure).
        case skippingPayload(remaining: Int)
    }

    /// The message being reassembled from data frames (RFC 6455 §5.4).
    enum MessageState: Sendable, Hashable {
        case idle
        case receiving(isText: Bool, isCompressed: Bool, validator: UTF8Validator)
    }

    public let role: WebSocketRole
    public let limits: WebSocketLimits
    /// The negotiated permessage-deflate agreement, if any.
    public var deflate: PerMessageDeflateParameters? { self.compression?.parameters }

    var state: State = .open
    var frameState: FrameState = .awaitingHeader
    var messageState: MessageState = .idle
    /// An action owed after the one just returned (e.g. close the transport after delivering a close).
    var owedAction: WebSocketAction? = nil
    /// The message under assembly. Completed messages are handed out as slices of it; it is reused when the
    /// application has let go of them, so an echo loop allocates nothing per message.
    var message = ByteBuffer()
    /// The start of a frame header or control frame that straddles two reads (never more than 139 bytes).
    var partialFrame = ByteBuffer()
    /// permessage-deflate's state, only when it was negotiated: out of line, so that the many connections
    /// without it do not carry its room (some 150 bytes) inline.
    var compression: Compression?
    /// A client's source of masking keys (a server has none), out of line for the same reason.
    var maskingKeys: MaskingKeys?
    /// RSV bits a frame may carry: RSV1 when permessage-deflate was negotiated.
    let allowedReservedBits: UInt8

    /// - Parameters:
    ///   - role: server or client; a client must pass a `maskingKeySource`.
    ///   - deflate: the permessage-deflate agreement from the handshake, or nil.
    ///   - deflateConfiguration: how to compress outgoing messages when `deflate` is set.
    public init(role: WebSocketRole, limits: WebSocketLimits = .applicationDefault,
                deflate: PerMessageDeflateParameters? = nil,
                deflateConfiguration: PerMessageDeflateConfiguration = PerMessageDeflateConfiguration(),
                maskingKeySource: (any MaskingKeySource)? = nil) {
        precondition(role == .server || maskingKeySource != nil, "a client engine needs a masking key source (RFC 6455 §5.3)")
        self.role = role
        self.limits = limits
        self.maskingKeys = maskingKeySource.map(MaskingKeys.init)
        self.allowedReservedBits = deflate == nil ? 0 : 0b100
        if let deflate {
            let (receiveNoTakeover, receiveBits, sendNoTakeover, sendBits) = role == .server
                ? (deflate.clientNoContextTakeover, deflate.clientMaxWindowBits, deflate.serverNoContextTakeover, deflate.serverMaxWindowBits)
                : (deflate.serverNoContextTakeover, deflate.serverMaxWindowBits, deflate.clientNoContextTakeover, deflate.clientMaxWindowBits)
            self.compression = Compression(
                parameters: deflate, threshold: deflateConfiguration.compressionThreshold,
                decompressor: MessageDecompressor(noContextTakeover: receiveNoTakeover, windowBits: receiveBits),
                compressor: MessageCompressor(noContextTakeover: sendNoTakeover, windowBits: sendBits,
                                              level: deflateConfiguration.compressionLevel,
                                              memoryLevel: deflateConfiguration.memoryLevel))
        }
    }

    /// True until a close frame has been sent or received.
    public var isOpen: Bool { self.state == .open }

    /// True once the close handshake is over or the transport has ended.
    public var isClosed: Bool { self.state == .closed }

    // MARK: - Receiving

    /// Consumes bytes from `input` up to the next thing the transport must act on. Call it again until it
    /// answers ``WebSocketAction/needMoreBytes``; `input` is then fully consumed (a partial header is kept).
    public mutating func receive(_ input: inout ByteBuffer, output: inout ByteBuffer) -> WebSocketAction {
        if let owed = self.owedAction {
            self.owedAction = nil
            return owed
        }
        while true {
            if self.state == .closed {
                input.moveReaderIndex(to: input.writerIndex)
                return .needMoreBytes
            }
            switch self.frameState {
            case .awaitingHeader:
                switch self.readFrameStart(&input) {
                case .needMoreBytes:
                    return .needMoreBytes
                case .violation(let violation, let unreadPayload):
                    if let action = self.fail(violation, output: &output, unreadPayload: unreadPayload) { return action }
                case .control(let header, let payload):
                    if let action = self.receivedControlFrame(header, payload: payload, output: &output) {
                        return action
                    }
                case .data(let header):
                    if let action = self.receivedDataFrameHeader(header, output: &output) {
                        return action
                    }
                }
            case .dataPayload(let remaining, let key, let offset, let isFinal):
                let count = min(remaining, input.readableBytes)
                if count == 0 && remaining > 0 { return .needMoreBytes }
                if let violation = self.appendPayload(&input, count: count, key: key, offset: offset) {
                    if let action = self.fail(violation, output: &output, unreadPayload: remaining - count) { return action }
                    continue
                }
                if remaining > count {
                    self.frameState = .dataPayload(remaining: remaining - count, maskingKey: key, maskOffset: offset + count, isFinal: isFinal)
                    return .needMoreBytes
                }
                self.frameState = .awaitingHeader
                if isFinal {
                    switch self.completeMessage() {
                    case .success(let event): return .deliver(event)
                    case .failure(let violation):
                        if let action = self.fail(violation, output: &output, unreadPayload: 0) { return action }
                    }
                }
            case .skippingPayload(let remaining):
                let count = min(remaining, input.readableBytes)
                input.moveReaderIndex(forwardBy: count)
                if remaining > count {
                    self.frameState = .skippingPayload(remaining: remaining - count)
                    return .needMoreBytes
                }
                self.frameState = .awaitingHeader
            }
        }
    }

    /// The transport reached end of stream (the peer closed TCP, or the read failed).
    /// Returns the event to report when the close handshake had not finished (1006, RFC 6455 §7.1.5).
    public mutating func receivedEndOfStream() -> WebSocketEvent? {
        defer { self.state = .closed; self.releaseBuffers() }
        switch self.state {
        case .open, .closeSent:
            return .close(.abnormalClosure, reason: "connection ended without a close frame")
        case .closed:
            return nil
        }
    }

    /// The close timer armed after ``WebSocketAction/startCloseTimer`` fired: give up waiting for the peer.
    public mutating func closeTimerFired() -> WebSocketAction {
        self.state = .closed
        self.releaseBuffers()
        return .closeTransport
    }

    // MARK: - Sending

    /// Appends a whole text or binary message to `output`, compressed when permessage-deflate is on and the
    /// payload reaches the threshold. Text payloads must be valid UTF-8 (the caller's promise).
    public mutating func send(_ opcode: Opcode, payload: ByteBuffer, output: inout ByteBuffer) throws(WebSocketError) {
        precondition(opcode == .text || opcode == .binary, "send(_:payload:output:) sends data messages; use ping/close for control frames")
        guard self.state == .open else { throw .notOpen }
        if let compression = self.compression, compression.compressor != nil, payload.readableBytes >= compression.threshold {
            try self.sendCompressed(opcode, payload: payload, output: &output)
            return
        }
        let header = FrameHeader(opcode: opcode, maskingKey: self.nextMaskingKey(), payloadLength: payload.readableBytes)
        FrameEncoder.writeFrame(header, payload: payload, into: &output)
    }

    /// For payloads that go on the wire unchanged (a server's message below the compression threshold):
    /// appends only the frame header and returns true, so the transport can queue `payload` itself right
    /// after `output` instead of copying it. Returns false, writing nothing, when the engine must transform
    /// the payload (a client masks it, permessage-deflate compresses it); use ``send(_:payload:output:)``.
    public mutating func sendHeader(_ opcode: Opcode, payload: ByteBuffer, output: inout ByteBuffer) throws(WebSocketError) -> Bool {
        precondition(opcode == .text || opcode == .binary, "sendHeader(_:payload:output:) sends data messages")
        guard try self.sendsUnchanged(payloadLength: payload.readableBytes) else { return false }
        FrameEncoder.writeHeader(FrameHeader(opcode: opcode, payloadLength: payload.readableBytes), into: &output)
        return true
    }

    /// Whether a text or binary message of `payloadLength` bytes would go on the wire as one plain frame:
    /// unmasked (a server) and uncompressed (no permessage-deflate, or a payload below the compression
    /// threshold). Such a frame is the same on every connection, so a broadcast can encode it once with
    /// ``FrameEncoder/writeFrame(_:payload:into:)`` and the transport can write those bytes for each
    /// connection where this answers true. Throws when the connection no longer sends messages.
    public func sendsUnchanged(payloadLength: Int) throws(WebSocketError) -> Bool {
        guard self.state == .open else { throw .notOpen }
        guard self.role == .server else { return false }
        guard let compression = self.compression, compression.compressor != nil else { return true }
        return payloadLength < compression.threshold
    }

    /// Appends a ping frame (payload ≤ 125 bytes) to `output`.
    public mutating func ping(_ payload: ByteBuffer = ByteBuffer(), output: inout ByteBuffer) throws(WebSocketError) {
        guard self.state == .open else { throw .notOpen }
        guard payload.readableBytes <= 125 else { throw .controlPayloadTooLong(payload.readableBytes) }
        self.writeControlFrame(.ping, payload: payload, output: &output)
    }

    /// Appends an unsolicited pong (a one-way heartbeat, RFC 6455 §5.5.3) to `output`.
    public mutating func pong(_ payload: ByteBuffer = ByteBuffer(), output: inout ByteBuffer) throws(WebSocketError) {
        guard self.state == .open else { throw .notOpen }
        guard payload.readableBytes <= 125 else { throw .controlPayloadTooLong(payload.readableBytes) }
        self.writeControlFrame(.pong, payload: payload, output: &output)
    }

    /// Starts the close handshake: appends a close frame to `output`. Answer ``WebSocketAction/startCloseTimer``
    /// by arming the close timer. Does nothing when a close frame was already sent or received.
    @discardableResult
    public mutating func close(code: CloseCode = .normalClosure, reason: String = "", output: inout ByteBuffer) throws(WebSocketError) -> WebSocketAction? {
        guard self.state == .open else { return nil }
        guard code.isSendable else { throw .unsendableCloseCode(code) }
        let reasonLength = reason.utf8.count
        guard reasonLength <= 123 else { throw .controlPayloadTooLong(2 + reasonLength) }
        self.writeCloseFrame(code: code, reason: reason, output: &output)
        self.state = .closeSent(failed: false)
        return .startCloseTimer
    }

    /// Drops buffers a quiet connection need not keep (call when a read batch is done).
    public mutating func releaseIdleBuffers() {
        guard self.messageState == .idle else { return }
        if self.message.capacity > 0 { self.message = ByteBuffer() }
        if let compression = self.compression, compression.chunk.capacity > 0 { compression.chunk = ByteBuffer() }
        if self.partialFrame.readableBytes == 0, self.partialFrame.capacity > 0 { self.partialFrame = ByteBuffer() }
    }
}

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

extension WebSocketEngine {
    /// permessage-deflate's state (RFC 7692). A class, held by one engine only: the engine is moved, never
    /// copied and used twice (its zlib streams could not be shared either).
    final class Compression {
        let parameters: PerMessageDeflateParameters
        /// Messages shorter than this go out uncompressed.
        let threshold: Int
        var decompressor: MessageDecompressor?
        var compressor: MessageCompressor?
        /// Compressed bytes of the current frame, unmasked, on their way to the decompressor; or a message
        /// just compressed, on its way out.
        var chunk = ByteBuffer()

        init(parameters: PerMessageDeflateParameters, threshold: Int, decompressor: MessageDecompressor, compressor: MessageCompressor) {
            self.parameters = parameters
            self.threshold = threshold
            self.decompressor = decompressor
            self.compressor = compressor
        }

        func decompress(into message: inout ByteBuffer, limit: Int) throws {
            try self.decompressor!.decompress(&self.chunk, into: &message, limit: limit)
        }

        func finishMessage(into message: inout ByteBuffer, limit: Int) throws {
            try self.decompressor!.finishMessage(into: &message, limit: limit)
        }

        func compress(_ payload: ByteBuffer) throws {
            try self.compressor!.compress(payload, into: &self.chunk)
        }
    }

    /// A client's masking key source (RFC 6455 §5.3), boxed.
    final class MaskingKeys {
        var source: any MaskingKeySource
        init(_ source: any MaskingKeySource) { self.source = source }
    }
}
