import NIOCore

/// Which frame a server connection sends for a message that many connections send (a broadcast), so that
/// the frame can be made once for all of them.
public enum SharedFrameUse: Sendable, Hashable {
    /// The plain frame: unmasked, uncompressed (no permessage-deflate, or a message below the threshold).
    case plain
    /// The message compressed alone with a 15-bit window, as ``SharedFrameCompressor`` makes it: the
    /// connection agreed `server_no_context_takeover`, so every message it receives stands alone, and its
    /// window holds any distance this message can refer back.
    case compressed
    /// Neither: the connection frames the message itself (a client masks every frame; a server that keeps
    /// its compression context compresses with it).
    case unshared
}

extension WebSocketEngine {
    /// Which shared frame this connection can send for a text or binary message of `payloadLength` bytes.
    /// Throws when the connection no longer sends messages.
    public func sharedFrameUse(payloadLength: Int) throws(WebSocketError) -> SharedFrameUse {
        guard self.state == .open else { throw .notOpen }
        guard self.role == .server else { return .unshared }
        guard let compression = self.compression, payloadLength >= compression.threshold else { return .plain }
        let agreed = compression.parameters
        // A message compressed alone refers back at most its own length minus one: within any window at
        // least that long, whatever window the compressor had (RFC 7692 §7.1.2.1 limits distances only).
        guard agreed.serverNoContextTakeover,
              agreed.serverMaxWindowBits >= 15 || payloadLength <= 1 << agreed.serverMaxWindowBits else { return .unshared }
        return .compressed
    }
}

/// Compresses messages into whole server frames, each message alone (RFC 7692 §7.2.1 without context
/// takeover) with a 15-bit window: the frame any connection whose ``WebSocketEngine/sharedFrameUse(payloadLength:)``
/// is ``SharedFrameUse/compressed`` can send. One compressor serves every connection of a thread, so a
/// connection that compresses holds no zlib stream of its own (one at memLevel 8 holds about 256 KiB).
///
/// ```swift
/// var compressor = SharedFrameCompressor(level: 6, memoryLevel: 8)
/// var frame = ByteBuffer()
/// try compressor.writeFrame(.text, payload: json, into: &frame)   // c1 … : RSV1 set, then the DEFLATE bytes
/// ```
///
/// Copies share the zlib stream: keep one per thread.
public struct SharedFrameCompressor {
    private var compressor: MessageCompressor
    /// The compressed payload on its way behind its header; reused.
    private var scratch = ByteBuffer()

    /// - Parameters:
    ///   - level: zlib compression level, 0...9, or -1 for zlib's default.
    ///   - memoryLevel: zlib `memLevel`, 1...9.
    public init(level: Int, memoryLevel: Int) {
        self.compressor = MessageCompressor(noContextTakeover: true, windowBits: 15, level: level, memoryLevel: memoryLevel)
    }

    /// Appends one unmasked, final frame with RSV1 set that holds `payload` compressed alone.
    public mutating func writeFrame(_ opcode: Opcode, payload: ByteBuffer, into output: inout ByteBuffer) throws(WebSocketError) {
        precondition(opcode == .text || opcode == .binary, "only data messages are compressed")
        self.scratch.clear(minimumCapacity: payload.readableBytes / 2 + 64)
        do {
            try self.compressor.compress(payload, into: &self.scratch)
        } catch {
            throw .compressionFailed
        }
        // RFC 7692 §6.1: RSV1 on the first (here: only) frame marks a compressed message.
        let header = FrameHeader(reservedBits: 0b100, opcode: opcode, payloadLength: self.scratch.readableBytes)
        FrameEncoder.writeFrame(header, payload: self.scratch, into: &output)
        if self.scratch.capacity > 64 << 10 { self.scratch = ByteBuffer() }
    }
}
