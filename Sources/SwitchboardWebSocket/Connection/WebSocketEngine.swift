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
    ///   - limits: the largest frame and message accepted, and how much is buffered.
    ///   - deflate: the permessage-deflate agreement from the handshake, or nil.
    ///   - deflateConfiguration: how to compress outgoing messages when `deflate` is set.
    ///   - maskingKeySource: where a client's masking keys come from (RFC 6455 §5.3); nil for a server.
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
                releasesIdleStreams: !deflateConfiguration.keepsStreamsBetweenMessages,
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
        try self.sharedFrameUse(payloadLength: payloadLength) == .plain
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
