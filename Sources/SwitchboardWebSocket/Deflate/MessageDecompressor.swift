import CompressNIO
import NIOCore

/// Inflates the payloads of compressed messages received on one connection (RFC 7692 §7.2.2).
///
/// Feed every frame of a compressed message to ``decompress(_:into:limit:)`` as it arrives (the
/// payload already unmasked), then call ``finishMessage(into:limit:)`` once the frame with FIN has been
/// fed. The inflated bytes are appended to `output`, which must hold only the current message: `limit`
/// bounds `output.readableBytes`, so a decompression bomb is stopped after about `limit` bytes of work.
///
/// ```swift
/// var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
/// var message = ByteBuffer()
/// var frame = ByteBuffer(bytes: [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
/// try decompressor.decompress(&frame, into: &message, limit: 1 << 20)
/// try decompressor.finishMessage(into: &message, limit: 1 << 20)   // message holds "Hello"
/// ```
///
/// The zlib stream is created on the first compressed byte, so a connection that negotiated deflate but
/// never receives a compressed message costs no zlib memory; ``releaseResources()`` gives it back.
///
/// A value owns its zlib stream by reference: copies share it. Keep exactly one per connection, and
/// after a thrown ``DeflateFailure`` do not use it again (the connection is closing).
public struct MessageDecompressor {
    /// Whether the peer resets its LZ77 window after every message (`*_no_context_takeover`, RFC 7692
    /// §7.1.1), in which case this side resets too, freeing nothing but starting each message clean.
    public let noContextTakeover: Bool

    /// The LZ77 window the peer agreed not to exceed (`*_max_window_bits`, RFC 7692 §7.1.2), 8...15.
    ///
    /// The inflate window is always the largest, 15 bits, whatever was agreed (RFC 7692 §7.1.2.1: a
    /// receiver may inflate with a window larger than the one the sender uses). A narrower inflate window
    /// cannot enforce the agreement reliably: zlib resolves a back-reference from the window *or* from
    /// the bytes it already wrote in the same call, so a peer that reaches further back than it agreed
    /// would be accepted when a read brought the whole message and rejected when TCP split it (found by
    /// `FuzzTesting/FailCases/FuzzFrames/deflate-window-violation-split-dependent`). With the full window
    /// every reference DEFLATE can encode resolves the same way however the payload arrives, so a
    /// message is accepted or refused by its bytes alone. The cost is the window's memory: 32 KiB per
    /// connection (allocated by zlib on first output), not 2^bits.
    public let windowBits: Int

    /// The window zlib inflates with, whatever ``windowBits`` says (see there why).
    static let inflateWindowBits = 15

    /// Created on first use; `nil` while idle or after ``releaseResources()``.
    private var inflater: ZlibDecompressor?
    /// The four octets RFC 7692 §7.2.2 appends to every message, reused so finishing a message does not
    /// allocate. Created with `inflater`.
    private var tail: ByteBuffer?
    /// Whether the message in progress has had any compressed byte; an empty message never touches zlib.
    private var messageHasPayload = false

    /// Creates a decompressor for one connection; no zlib memory is allocated until the first message.
    ///
    /// - Parameters:
    ///   - noContextTakeover: the peer's `*_no_context_takeover` agreement (RFC 7692 §7.1.1).
    ///   - windowBits: the peer's `*_max_window_bits` agreement, 8...15 (15 when none was negotiated).
    /// - Precondition: `windowBits` is in 8...15; the handshake never negotiates anything else.
    public init(noContextTakeover: Bool, windowBits: Int) {
        precondition((8...15).contains(windowBits), "windowBits must be in 8...15 (RFC 7692 §7.1.2), got \(windowBits)")
        self.noContextTakeover = noContextTakeover
        self.windowBits = windowBits
    }

    /// Inflates one frame's payload of a compressed message, appending the result to `output`.
    ///
    /// All of `compressed` is consumed. Some inflated bytes of this frame may only appear after the next
    /// call or after ``finishMessage(into:limit:)``: DEFLATE blocks span frames, and zlib may hold a few
    /// bits until more input arrives.
    ///
    /// Pass a uniquely referenced buffer if you can: zlib is driven through CompressNIO, which takes the
    /// input mutably, so a buffer whose storage is shared (a slice of a larger read) is copied once.
    ///
    /// - Parameters:
    ///   - compressed: the unmasked payload of one frame; its reader index is moved to its writer index.
    ///   - output: the message so far; inflated bytes are appended. It should hold only this message.
    ///   - limit: the largest `output.readableBytes` allowed for this message.
    /// - Throws: ``DeflateFailure/messageTooLarge`` once `output` would exceed `limit`,
    ///   ``DeflateFailure/corruptData`` for invalid DEFLATE data, ``DeflateFailure/compressorFailure``
    ///   when zlib fails for reasons of its own.
    public mutating func decompress(_ compressed: inout ByteBuffer, into output: inout ByteBuffer,
                                    limit: Int) throws(DeflateFailure) {
        guard output.readableBytes <= limit else { throw .messageTooLarge }
        guard compressed.readableBytes > 0 else { return }
        let inflater = try self.inflaterCreatingIfNeeded()
        self.messageHasPayload = true
        try Self.inflate(&compressed, with: inflater, into: &output, limit: limit, isTail: false)
    }

    /// Completes the message: inflates the RFC 7692 §7.2.2 tail and, without context takeover, resets
    /// the window for the next message.
    ///
    /// RFC 7692 §7.2.2: "Append 4 octets of 0x00 0x00 0xff 0xff to the tail end of the payload of the
    /// message. Decompress the resulting data using DEFLATE." The sender stripped these octets (the end
    /// of the empty stored block of a sync flush, §7.2.1); putting them back lets zlib emit everything
    /// the last block still held.
    ///
    /// A message whose frames carried no payload at all is accepted as the empty message without
    /// touching zlib: the tail alone is not a complete DEFLATE block, and feeding it would leave the
    /// stream inside a stored block, breaking every later message.
    ///
    /// - Parameters:
    ///   - output: the message so far, as passed to ``decompress(_:into:limit:)``.
    ///   - limit: the largest `output.readableBytes` allowed for this message.
    /// - Throws: as ``decompress(_:into:limit:)``.
    public mutating func finishMessage(into output: inout ByteBuffer, limit: Int) throws(DeflateFailure) {
        guard output.readableBytes <= limit else { throw .messageTooLarge }
        guard self.messageHasPayload else { return }
        self.messageHasPayload = false
        guard let inflater = self.inflater, var tail = self.tail.take() else {
            preconditionFailure("Internal inconsistency: a message had payload but the inflater is missing")
        }
        // Rewind the stored tail; uniquely referenced while taken out of `self`, so no copy-on-write.
        tail.moveReaderIndex(to: 0)
        defer { self.tail = tail }
        try Self.inflate(&tail, with: inflater, into: &output, limit: limit, isTail: true)
        if self.noContextTakeover {
            // RFC 7692 §7.1.1: under "*_no_context_takeover" the peer starts every message with an empty
            // window and may not refer to earlier messages, so this side keeps no history either.
            try Self.reset(inflater)
        }
    }

    /// Frees the zlib stream and its window now rather than when the value is dropped.
    ///
    /// Call it when the connection closes. With ``noContextTakeover`` it may also be called between
    /// messages to shed memory on an idle connection; the next message creates a fresh stream. With
    /// context takeover the peer's next message may refer to earlier ones, so releasing between
    /// messages would make it undecodable.
    public mutating func releaseResources() {
        self.inflater = nil
        self.tail = nil
        self.messageHasPayload = false
    }

    /// Whether a zlib stream is currently allocated (exposed for tests of the lazy allocation).
    var hasAllocatedStream: Bool {
        self.inflater != nil
    }

    // MARK: - zlib driving

    /// DEFLATE's largest expansion: a 258-byte match coded in two bits (one-bit literal/length and
    /// distance codes), so one input byte can produce at most 1032 output bytes.
    private static let maximumExpansionPerInputByte = 1032
    /// Input bytes zlib may already hold in its bit buffer (up to 64 bits), counted against the
    /// allowance when metering input.
    private static let heldInputBytes = 8
    /// How far past the limit metered inflation may run. Without slack, a legitimate message that ends
    /// just below a limit would be inflated one input byte per call over its last few kilobytes; with
    /// it, each call gets at least a few dozen bytes. The bytes land in capacity `output` already has.
    private static let meteringSlack = 32 * 1024
    /// Output space offered to zlib at least per call, so its fast path (which needs 258 bytes) runs.
    private static let minimumOutputSpace = 4096

    private mutating func inflaterCreatingIfNeeded() throws(DeflateFailure) -> ZlibDecompressor {
        if let inflater = self.inflater {
            return inflater
        }
        let inflater: ZlibDecompressor
        do {
            // Raw DEFLATE: CompressNIO negates the window bits for `.deflate`, so zlib expects no header.
            inflater = try ZlibDecompressor(algorithm: .deflate, windowSize: Int32(Self.inflateWindowBits))
        } catch {
            throw .compressorFailure
        }
        self.inflater = inflater
        self.tail = ByteBuffer(bytes: [0x00, 0x00, 0xFF, 0xFF])
        return inflater
    }

    private static func reset(_ inflater: ZlibDecompressor) throws(DeflateFailure) {
        do {
            try inflater.reset()
        } catch {
            throw .compressorFailure
        }
    }

    private enum CallOutcome {
        /// `Z_OK` with room left (so all the input was used), or `Z_STREAM_END` (input may remain).
        case returned
        /// zlib filled the output (or could not progress for lack of it); more may be pending.
        case outputFull
        /// zlib could not progress without more input (`Z_BUF_ERROR` with no input left).
        case needsInput
    }

    /// Inflates all of `input` into `output`, throwing as soon as `output` would exceed `limit`.
    ///
    /// Memory: `output` is never grown past `limit` (its capacity stays within the power of two that
    /// holds `limit`). When it is exactly full and input remains, a one-byte probe tells whether the
    /// message goes on; only then is it too large.
    ///
    /// Work: zlib writes into the whole writable region of `output`, which may exceed what the limit
    /// still allows (ByteBuffer rounds capacity up to a power of two, and the caller's buffer may come
    /// with room to spare). The input is then metered: zlib is given only as many bytes as could expand
    /// to the remaining allowance plus `meteringSlack`, so inflation overshoots the limit by at most
    /// `meteringSlack + (heldInputBytes + 1) * maximumExpansionPerInputByte + 258` bytes (≈ 41.3 KiB:
    /// the slack, one metered byte, the bytes zlib already holds, and a match it had started) before the
    /// failure is raised. Those bytes land in capacity `output` already had.
    private static func inflate(_ input: inout ByteBuffer, with inflater: ZlibDecompressor,
                                into output: inout ByteBuffer, limit: Int, isTail: Bool) throws(DeflateFailure) {
        var outputMayBePending = false
        var resetSinceProgress = false
        while input.readableBytes > 0 || outputMayBePending {
            let produced = output.readableBytes
            guard produced <= limit else { throw .messageTooLarge }
            let room = limit - produced
            let offered: Int
            let outcome: CallOutcome
            let madeProgress: Bool
            var hidden = 0
            if room == 0 {
                // Full to the limit: one more byte proves the message too large.
                var probe = ByteBuffer()
                probe.reserveCapacity(1)
                offered = input.readableBytes
                outcome = try Self.call(inflater, from: &input, into: &probe)
                guard probe.readableBytes == 0 else { throw .messageTooLarge }
                madeProgress = input.readableBytes < offered
            } else {
                if output.writableBytes < min(room, Self.minimumOutputSpace) {
                    // Grow geometrically (ByteBuffer rounds capacity up to a power of two), never past
                    // what the limit still allows.
                    let wanted = max(produced, 4 * input.readableBytes, Self.minimumOutputSpace)
                    output.reserveCapacity(minimumWritableBytes: min(wanted, room))
                }
                // Hide the input zlib must not see yet by pulling the writer index back; restored below.
                // One byte past the limit is all zlib needs to be allowed to write.
                let allowance = room + 1
                if output.writableBytes > allowance {
                    let affordable = (allowance + Self.meteringSlack) / Self.maximumExpansionPerInputByte
                        - Self.heldInputBytes
                    hidden = max(0, input.readableBytes - max(1, affordable))
                    input.moveWriterIndex(to: input.writerIndex - hidden)
                }
                offered = input.readableBytes
                do {
                    outcome = try Self.call(inflater, from: &input, into: &output)
                } catch {
                    input.moveWriterIndex(to: input.writerIndex + hidden)
                    throw error
                }
                guard output.readableBytes <= limit else { throw .messageTooLarge }
                madeProgress = input.readableBytes < offered || output.readableBytes > produced
            }
            let unconsumed = input.readableBytes
            input.moveWriterIndex(to: input.writerIndex + hidden)
            if madeProgress {
                resetSinceProgress = false
            }

            switch outcome {
            case .outputFull:
                outputMayBePending = true
            case .needsInput:
                outputMayBePending = false
            case .returned:
                outputMayBePending = false
                // zlib returns with input left and room to spare only at Z_STREAM_END: the peer closed
                // the DEFLATE stream with a BFINAL block. RFC 7692 §7.2.3.4 allows this and shows the
                // blocks that follow (there, one stored-block header completed by the tail), so start a
                // new stream for the rest. The old window is gone with the old stream, as it is for the
                // sender that ended it.
                guard unconsumed > 0 else { continue }
                if isTail {
                    // Nothing followed the final block: the tail has nothing to terminate, and feeding it
                    // to a new stream would leave that stream inside a stored block.
                    input.moveReaderIndex(to: input.writerIndex)
                    try Self.reset(inflater)
                    return
                }
                guard !resetSinceProgress else {
                    // A fresh stream always consumes input or fails; anything else is a zlib we don't know.
                    throw .compressorFailure
                }
                try Self.reset(inflater)
                resetSinceProgress = true
            }
        }
    }

    /// One call to zlib's inflate, its outcome sorted out of CompressNIO's errors.
    private static func call(_ inflater: ZlibDecompressor, from input: inout ByteBuffer,
                             into output: inout ByteBuffer) throws(DeflateFailure) -> CallOutcome {
        let writable = output.writableBytes
        do {
            try inflater.inflate(from: &input, to: &output)
            return .returned
        } catch let error as CompressNIOError where error == .bufferOverflow {
            // Z_OK with the output full, or Z_BUF_ERROR with input left: zlib can only go on with more
            // room. With room offered and nothing written, it stalled; looping would hang.
            guard output.writableBytes < writable || output.writableBytes == 0 else { throw .compressorFailure }
            return .outputFull
        } catch let error as CompressNIOError where error == .inputBufferOverflow {
            return .needsInput
        } catch let error as CompressNIOError where error == .corruptData {
            throw .corruptData
        } catch {
            throw .compressorFailure
        }
    }
}
