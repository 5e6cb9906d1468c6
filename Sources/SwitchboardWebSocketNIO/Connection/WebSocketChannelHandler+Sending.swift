import Logging
import NIOCore
import SwitchboardWebSocket

/// Sending: messages, pings and the close, into the batch's output buffer, flushed once per read batch (or at
/// once outside one), with the outbound budget that protects the server from peers that stop reading.
extension WebSocketChannelHandler {
    func send(_ message: WebSocketMessage) throws {
        guard case .open = self.phase, let io = self.io else { throw WebSocketTransportError.connectionClosed }
        try self.checkOutboundBudget(adding: message.data.readableBytes)
        do {
            if let deflate = self.configuration.deflate,
               try Self.sharedFrameUse(&self.engine!, payloadLength: message.data.readableBytes) == .compressed {
                // Compressed alone, with this loop's compressor: the connection keeps no zlib stream.
                try ThreadCompressors.with(deflate) { (compressor: inout SharedFrameCompressor) throws(WebSocketError) in
                    try compressor.writeFrame(message.opcode, payload: message.data, into: &self.output)
                }
            } else if message.data.readableBytes >= Self.zeroCopyThreshold,
               try self.engine!.sendHeader(message.opcode, payload: message.data, output: &self.output) {
                // Large and unchanged on the wire: queue the header and the payload as they are; the
                // flush writes them with one writev, and the payload is never copied.
                io.write(self.output)
                io.write(message.data)
                self.output = ByteBuffer()
                self.hasUnflushedWrites = true
            } else {
                try self.engine!.send(message.opcode, payload: message.data, output: &self.output)
            }
        } catch {
            throw WebSocketTransportError.connectionClosed
        }
        self.flushSoon()
    }

    /// Writes a frame encoded once for many connections as it is, when this connection would send exactly
    /// those bytes: the plain frame, or the compressed one that connections without compression context
    /// share; otherwise (this connection compresses with its own context) sends the message the usual way.
    func send(_ prepared: WebSocketPreparedMessage) throws {
        guard case .open = self.phase, let io = self.io else { throw WebSocketTransportError.connectionClosed }
        let frame: ByteBuffer?
        do {
            // Asked through an inout access: read straight off the class property, a non-mutating call
            // copies the whole engine (and retains what it holds) per message.
            switch try Self.sharedFrameUse(&self.engine!, payloadLength: prepared.payloadLength) {
            case .plain:
                frame = prepared.frame
            case .compressed:
                frame = try self.configuration.deflate.map { configuration throws(WebSocketError) in try prepared.compressedFrame(configuration) }
            case .unshared:
                frame = nil
            }
        } catch {
            throw WebSocketTransportError.connectionClosed
        }
        guard let frame else {
            try self.send(prepared.message)
            return
        }
        try self.checkOutboundBudget(adding: frame.readableBytes)
        if frame.readableBytes < Self.zeroCopyThreshold {
            // Small: copied behind what this turn has so far (uWebSockets' cork buffer), so a fan-out's
            // publications leave in one plain write, and the channel's pipeline is passed once per turn,
            // not once per publication.
            if self.output.capacity == 0 {
                let size = max(Int(self.lastOutputSize), frame.readableBytes)
                self.output = io.allocator.buffer(capacity: min(size, Self.zeroCopyThreshold))
            }
            self.output.writeImmutableBuffer(frame)
            self.flushSoon()
            return
        }
        // Large: queued as a write of their own, after what the batch has so far to keep the order; the
        // flush sends them all with one writev, and the frame is never copied.
        if self.output.readableBytes > 0 {
            io.write(self.output)
            self.output = ByteBuffer()
        }
        io.write(frame)
        self.hasUnflushedWrites = true
        self.flushSoon()
    }

    private static func sharedFrameUse(_ engine: inout WebSocketEngine, payloadLength: Int) throws(WebSocketError) -> SharedFrameUse {
        try engine.sharedFrameUse(payloadLength: payloadLength)
    }

    func sendPing(_ data: ByteBuffer) throws {
        guard case .open = self.phase, self.io != nil else { throw WebSocketTransportError.connectionClosed }
        do {
            try self.engine!.ping(data, output: &self.output)
        } catch {
            throw WebSocketTransportError.connectionClosed
        }
        self.flushSoon()
    }

    /// A future that completes when the socket is writable again (immediately if it is).
    func waitUntilWritable() -> EventLoopFuture<Void> {
        guard case .open = self.phase, let io = self.io else { return self.eventLoop.makeFailedFuture(WebSocketTransportError.connectionClosed) }
        if io.isWritable { return self.eventLoop.makeSucceededVoidFuture() }
        let promise = self.eventLoop.makePromise(of: Void.self)
        self.writabilityWaiters.append(promise)
        return promise.futureResult
    }

    /// Closes a peer whose unread backlog would pass the configured limit (it has stopped reading).
    func checkOutboundBudget(adding count: Int) throws {
        // While the channel is writable its own backlog is below the high-water mark; only this turn's
        // unflushed output could pass the limit then. (Writability as last reported: asking the channel
        // per message costs more than the rest of a small send.)
        let unflushed = self.output.readableBytes + count
        let limit = self.configuration.maximumOutboundBufferSize
        guard self.pauseReasons.contains(.unwritable) || unflushed > limit else { return }
        let buffered = self.io?.bufferedBytes ?? 0
        if buffered + unflushed > limit {
            self.logger.info("Closing a WebSocket peer that stopped reading", metadata: ["buffered": "\(buffered)"])
            self.closeStatus = WebSocketCloseStatus(code: self.configuration.slowConsumerCloseCode, reason: "peer stopped reading",
                                                    initiatedLocally: true)
            self.closeTransport(abruptly: true)
            throw WebSocketTransportError.outboundBufferFull
        }
    }

    func initiateClose(code: CloseCode, reason: String) {
        guard case .open = self.phase, self.io != nil else { return }
        self.closeInitiatedLocally = true
        let action: WebSocketAction?
        do {
            action = try self.engine!.close(code: code, reason: reason, output: &self.output)
        } catch {
            // An unsendable code or an over-long reason from the caller: close normally instead.
            action = try? self.engine!.close(code: .normalClosure, reason: "", output: &self.output)
        }
        if action == .startCloseTimer { self.startCloseTimer() }
        // Not at the end of the turn: a close frame should leave at once, and whoever closes the socket
        // next (a shutdown's grace period ending while this loop was busy) must find it gone.
        if !self.inReadBatch { self.flushOutput() }
    }

    /// Below this a payload is copied into the batch's output buffer (one small write beats two).
    static let zeroCopyThreshold = 8 << 10

    /// Outside a read batch, writes wait for the end of the event-loop turn (``FlushCoalescer``), so what
    /// this connection gets during the turn leaves in one write; inside one, `channelReadComplete` flushes.
    func flushSoon() {
        guard !self.inReadBatch, !self.flushScheduled else { return }
        guard let coalescer = self.flushCoalescer else { return self.flushOutput() }
        self.flushScheduled = true
        coalescer.flushAtEndOfTurn(self)
    }

    /// Writes what waits for the end of the turn now: for a sender that knows nothing more is coming for
    /// this connection in this turn (the last of a fan-out batch), so that its buffer is written and freed
    /// before the next connection's is filled, rather than every connection's buffer living until the
    /// turn ends. Inside a read batch, the batch's own flush follows anyway.
    func flushNow() {
        guard !self.inReadBatch, self.io != nil, case .open = self.phase else { return }
        self.flushOutput()
    }

    /// The coalescer's flush at the end of the turn.
    func flushCorkedOutput() {
        self.flushScheduled = false
        guard self.io != nil, case .open = self.phase else { return }
        self.flushOutput()
    }

    func flushOutput() {
        guard let io = self.io else { return }
        if self.output.readableBytes > 0 {
            // Hand the buffer over whole; the next batch starts a fresh one, so a quiet connection holds none.
            self.lastOutputSize = UInt32(clamping: self.output.readableBytes)
            io.write(self.output)
            self.output = ByteBuffer()
        } else if !self.hasUnflushedWrites {
            return
        }
        self.hasUnflushedWrites = false
        io.flush()
    }
}
