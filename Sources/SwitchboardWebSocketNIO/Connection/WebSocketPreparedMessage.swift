import Atomics
import NIOCore
import SwitchboardWebSocket

/// A text or binary message framed once for many recipients: the broadcast path.
///
/// The server's frame for the message (one unmasked, uncompressed frame) is encoded when the value is
/// made. Sending it on a connection without permessage-deflate writes those same bytes — no encoding and no
/// copy per recipient — so a publication to 10,000 subscribers is framed once. Connections with
/// permessage-deflate and `server_no_context_takeover` share one compressed frame too, made by the first of
/// them that sends it (`SharedFrameUse.compressed`); a connection that keeps its compression context
/// compresses the message itself. Below the compression threshold every connection writes the plain frame.
///
/// ```swift
/// let prepared = WebSocketPreparedMessage(.text(json))
/// for subscriber in subscribers {           // NIOLoopBound<WebSocketEventLoopConnection>
///     subscriber.eventLoop.execute { try? subscriber.value.send(prepared) }
/// }
/// ```
///
/// Immutable and `Sendable`: one value may be sent from every event loop at once.
public struct WebSocketPreparedMessage: Sendable {
    /// Text or binary.
    public let kind: WebSocketMessage.Kind
    /// The whole frame: its header, then the payload unchanged.
    let frame: ByteBuffer
    /// Where the payload starts in ``frame``, counted from its reader index.
    private let headerLength: Int
    /// The compressed frame, once a connection has needed it.
    private let compressed = ManagedAtomicLazyReference<CompressedFrame>()

    /// Encodes `message`'s frame; text must be valid UTF-8 (as for any send).
    public init(_ message: WebSocketMessage) {
        let header = FrameHeader(opcode: message.opcode, payloadLength: message.data.readableBytes)
        var frame = ByteBufferAllocator().buffer(capacity: header.encodedSize + message.data.readableBytes)
        FrameEncoder.writeFrame(header, payload: message.data, into: &frame)
        self.kind = message.kind
        self.frame = frame
        self.headerLength = header.encodedSize
    }

    /// Room to leave in front of a payload for ``init(kind:payloadAfterHeadroom:)``: the longest server frame
    /// header (2 bytes, then a 64-bit length).
    public static let headroom = 10

    /// Frames a payload that was written behind ``headroom`` reserved bytes (its reader index at least that far
    /// into the buffer): the header goes into the room in front, so the payload is never copied. Pass the
    /// buffer with `consume`; a buffer shared with another value is copied once, as any write to it would be.
    public init(kind: WebSocketMessage.Kind, payloadAfterHeadroom buffer: consuming ByteBuffer) {
        let header = FrameHeader(opcode: kind == .text ? .text : .binary, payloadLength: buffer.readableBytes)
        precondition(buffer.readerIndex >= header.encodedSize, "the payload needs \(header.encodedSize) bytes of headroom")
        // The header is written in place: back up to its start, write it, and put the end where it was.
        let end = buffer.writerIndex
        buffer.moveReaderIndex(to: buffer.readerIndex - header.encodedSize)
        buffer.moveWriterIndex(to: buffer.readerIndex)
        FrameEncoder.writeHeader(header, into: &buffer)
        buffer.moveWriterIndex(to: end)
        self.kind = kind
        self.frame = buffer
        self.headerLength = header.encodedSize
    }

    /// The payload's length in bytes.
    public var payloadLength: Int { self.frame.readableBytes - self.headerLength }

    /// The message compressed alone, as one frame for every connection whose engine answers
    /// `SharedFrameUse.compressed`: made on the first call, with the calling thread's compressor, and the
    /// same bytes for every call after (two loops may race to make it; the first one stored wins).
    func compressedFrame(_ configuration: PerMessageDeflateConfiguration) throws(WebSocketError) -> ByteBuffer {
        if let made = self.compressed.load() { return made.frame }
        let message = self.message
        var frame = ByteBuffer()
        try ThreadCompressors.with(configuration) { (compressor: inout SharedFrameCompressor) throws(WebSocketError) in
            try compressor.writeFrame(message.opcode, payload: message.data, into: &frame)
        }
        return self.compressed.storeIfNilThenLoad(CompressedFrame(frame)).frame
    }

    /// The message itself; its payload is a view into the frame, so keeping both costs no extra memory.
    public var message: WebSocketMessage {
        WebSocketMessage(kind: self.kind, data: self.frame.getSlice(at: self.frame.readerIndex + self.headerLength, length: self.payloadLength)!)
    }
}

/// A compressed frame behind a reference, for the atomic lazy slot.
private final class CompressedFrame: Sendable {
    let frame: ByteBuffer

    init(_ frame: ByteBuffer) {
        self.frame = frame
    }
}
