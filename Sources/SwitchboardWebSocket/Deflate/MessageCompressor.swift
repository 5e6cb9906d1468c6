import CompressNIO
import NIOCore

/// Deflates whole messages sent on one connection (RFC 7692 §7.2.1).
///
/// ``compress(_:into:)`` appends the payload of one compressed message: the DEFLATE output of a
/// `Z_SYNC_FLUSH` with its trailing `00 00 ff ff` removed, ready to be framed with RSV1 set on the first
/// frame (and split into fragments if the caller wishes).
///
/// ```swift
/// var compressor = MessageCompressor(noContextTakeover: false, windowBits: 15, level: 6, memoryLevel: 8)
/// var payload = ByteBuffer()
/// try compressor.compress(ByteBuffer(string: "Hello"), into: &payload)   // f2 48 cd c9 c9 07 00
/// ```
///
/// The zlib stream is created on the first non-empty message, so a connection that negotiated deflate but
/// never sends a compressed message costs no zlib memory; ``releaseResources()`` gives it back.
///
/// A value owns its zlib stream by reference: copies share it. Keep exactly one per connection, and
/// after a thrown ``DeflateFailure`` do not use it again (the connection is closing).
public struct MessageCompressor {
    /// Whether this side resets its LZ77 window after every message (`*_no_context_takeover`, RFC 7692
    /// §7.1.1): each message then compresses alone, so the peer can decode it without history.
    public let noContextTakeover: Bool
    /// The largest LZ77 window the peer agreed to decode (`*_max_window_bits`, RFC 7692 §7.1.2), 8...15.
    public let windowBits: Int
    /// zlib compression level, 0...9 (1 is fastest, 9 smallest), or -1 for zlib's default (6).
    public let level: Int
    /// zlib `memLevel`, 1...9: the compressor's hash tables take 2^(memLevel + 9) bytes.
    public let memoryLevel: Int

    /// Created on first use; `nil` while idle or after ``releaseResources()``.
    private var deflater: ZlibCompressor?

    /// Creates a compressor for one connection; no zlib memory is allocated until the first message.
    ///
    /// - Parameters:
    ///   - noContextTakeover: this side's `*_no_context_takeover` agreement (RFC 7692 §7.1.1).
    ///   - windowBits: this side's `*_max_window_bits` agreement, 8...15 (15 when none was negotiated).
    ///   - level: zlib compression level, 0...9, or -1 for zlib's default.
    ///   - memoryLevel: zlib `memLevel`, 1...9.
    /// - Precondition: every parameter is in its range; configuration and the handshake validate them.
    public init(noContextTakeover: Bool, windowBits: Int, level: Int, memoryLevel: Int) {
        precondition((8...15).contains(windowBits), "windowBits must be in 8...15 (RFC 7692 §7.1.2), got \(windowBits)")
        precondition((-1...9).contains(level), "zlib compression level must be in -1...9, got \(level)")
        precondition((1...9).contains(memoryLevel), "zlib memLevel must be in 1...9, got \(memoryLevel)")
        self.noContextTakeover = noContextTakeover
        self.windowBits = windowBits
        self.level = level
        self.memoryLevel = memoryLevel
    }

    /// The window zlib compresses with for a negotiated `windowBits`.
    ///
    /// zlib (since 1.2.9) rejects `windowBits` 8 for raw DEFLATE with `Z_STREAM_ERROR`; an 8-bit
    /// agreement is honoured by compressing with 9 instead. zlib never emits a match distance larger
    /// than the window size minus `MIN_LOOKAHEAD` (262 bytes: the longest match, 258, plus the shortest,
    /// 3, plus one), so a 512-byte window reaches at most 250 bytes back, within the 256 bytes the peer
    /// keeps. A 9-bit window costs this side 512 bytes more than 8 would; the peer pays nothing.
    static func zlibWindowBits(forNegotiated windowBits: Int) -> Int {
        max(windowBits, 9)
    }

    /// Appends the compressed payload of one whole message to `output`.
    ///
    /// RFC 7692 §7.2.1: compress all the octets of the message with DEFLATE, flush so that the output
    /// ends with an empty stored block (zlib's `Z_SYNC_FLUSH`), then remove its last four octets,
    /// `00 00 ff ff`. Without context takeover the window is reset after the message.
    ///
    /// The empty message is written as the single octet `0x00` without touching zlib (RFC 7692 §7.2.3.6:
    /// an empty stored block with the tail removed). With context takeover zlib could not produce it
    /// anyway: a second `Z_SYNC_FLUSH` with no new input returns `Z_BUF_ERROR` and writes nothing.
    ///
    /// CompressNIO takes zlib's input mutably, so the message's storage is copied once unless this call
    /// holds the only reference to it: pass the message as its last use (the parameter is `consuming`)
    /// to avoid that copy.
    ///
    /// - Parameters:
    ///   - message: the whole message; the caller's copy, if it keeps one, is not modified.
    ///   - output: the compressed payload is appended after its writer index. On failure it is left as
    ///     it was.
    /// - Throws: ``DeflateFailure/compressorFailure`` when zlib fails (out of memory, inconsistent state).
    public mutating func compress(_ message: consuming ByteBuffer, into output: inout ByteBuffer) throws(DeflateFailure) {
        guard message.readableBytes > 0 else {
            output.writeInteger(UInt8(0x00))
            return
        }
        let deflater = try self.deflaterCreatingIfNeeded()
        let start = output.writerIndex
        do throws(DeflateFailure) {
            try Self.deflate(&message, with: deflater, into: &output)
            // RFC 7692 §7.2.1: "If the resulting data does not end with an empty DEFLATE block with no
            // compression (the "BTYPE" bits are set to 00), append an empty DEFLATE block with no
            // compression to the tail end." A sync flush always does; then "Remove 4 octets (that are
            // 0x00 0x00 0xff 0xff) from the tail end."
            guard output.writerIndex - start >= 5,
                  output.getInteger(at: output.writerIndex - 4, as: UInt32.self) == 0x0000_FFFF
            else {
                throw DeflateFailure.compressorFailure
            }
            output.moveWriterIndex(to: output.writerIndex - 4)
            if self.noContextTakeover {
                try Self.reset(deflater)
            }
        } catch {
            output.moveWriterIndex(to: start)
            throw error
        }
    }

    /// Frees the zlib stream and its window now rather than when the value is dropped.
    ///
    /// Safe between any two messages, with or without context takeover: the next message starts a new
    /// stream at a byte boundary and refers to nothing earlier, which the peer decodes with whatever
    /// window it kept. Only the compression ratio of the next message suffers. Useful to shed memory on
    /// idle connections (a compressor at windowBits 15, memLevel 8 holds about 256 KiB).
    public mutating func releaseResources() {
        self.deflater = nil
    }

    /// Whether a zlib stream is currently allocated (exposed for tests of the lazy allocation).
    var hasAllocatedStream: Bool {
        self.deflater != nil
    }

    // MARK: - zlib driving

    /// Compressed output is reserved in one piece up to this size (the zlib bound: a little more than
    /// the message); beyond it, an eighth of the bound is reserved and grown geometrically, since large
    /// messages usually compress well and reserving the bound would over-allocate several times.
    private static let singleReservationLimit = 64 * 1024
    /// zlib manual, on `Z_SYNC_FLUSH`: "make sure that avail_out is greater than six to avoid repeated
    /// flush markers due to avail_out == 0 on return."
    private static let minimumOutputSpace = 64

    private mutating func deflaterCreatingIfNeeded() throws(DeflateFailure) -> ZlibCompressor {
        if let deflater = self.deflater {
            return deflater
        }
        let configuration = ZlibConfiguration(
            windowSize: Int32(Self.zlibWindowBits(forNegotiated: self.windowBits)),
            compressionLevel: Int32(self.level),
            memoryLevel: Int32(self.memoryLevel),
            strategy: .default
        )
        let deflater: ZlibCompressor
        do {
            // Raw DEFLATE: CompressNIO negates the window bits for `.deflate`, so zlib writes no header.
            deflater = try ZlibCompressor(algorithm: .deflate, configuration: configuration)
        } catch {
            throw .compressorFailure
        }
        self.deflater = deflater
        return deflater
    }

    private static func reset(_ deflater: ZlibCompressor) throws(DeflateFailure) {
        do {
            try deflater.reset()
        } catch {
            throw .compressorFailure
        }
    }

    /// Deflates all of `message` with `Z_SYNC_FLUSH` into `output`, growing it as needed.
    private static func deflate(_ input: inout ByteBuffer, with deflater: ZlibCompressor,
                                into output: inout ByteBuffer) throws(DeflateFailure) {
        let bound = deflater.maxSize(from: input)
        output.reserveCapacity(minimumWritableBytes: bound <= Self.singleReservationLimit
            ? bound : max(Self.singleReservationLimit, bound / 8))
        while true {
            if output.writableBytes < Self.minimumOutputSpace {
                output.reserveCapacity(minimumWritableBytes: max(output.readableBytes, Self.singleReservationLimit))
            }
            var stalled = false
            do {
                try deflater.deflate(from: &input, to: &output, flush: .sync)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // Z_BUF_ERROR: no progress was possible.
                stalled = true
            } catch {
                throw .compressorFailure
            }
            // zlib manual: "If deflate returns with avail_out == 0, this function must be called again
            // with the same value of the flush parameter and more output space (updated avail_out),
            // until the flush is complete (deflate returns with non-zero avail_out)."
            if input.readableBytes == 0 && output.writableBytes > 0 {
                return
            }
            if stalled && output.writableBytes > 0 {
                // Room to write and input left, yet no progress: the stream is not in a state we know.
                throw .compressorFailure
            }
        }
    }
}
