import Foundation
import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocketNIO

/// Writes a publication push as JSON text around the data's bytes as they are: the server never decodes a
/// publication's data, and never encodes it again (DESIGN.md, the delivery path).
///
/// The output is the same text the protocol's encoder gives for ``ServerMessage/publication(_:)`` (keys in
/// sorted order, `/` unescaped), so clients cannot tell which wrote it; a test holds the two to each other.
enum PublicationPushWriter {
    /// `{"channel":…,"data":…,"epoch":…,"info":…,"offset":…,"type":"publication"}` behind
    /// ``WebSocketPreparedMessage/headroom`` bytes left free for the frame header.
    static func write(_ publication: Publication) -> ByteBuffer {
        let info = publication.info.map { (try? RawJSON(encoding: $0))?.bytes ?? Array("null".utf8) }
        let headroom = WebSocketPreparedMessage.headroom
        var buffer = ByteBufferAllocator().buffer(capacity: headroom + 96 + publication.channel.utf8.count
            + publication.epoch.utf8.count + publication.data.bytes.count + (info?.count ?? 0))
        buffer.moveWriterIndex(forwardBy: headroom)
        buffer.moveReaderIndex(forwardBy: headroom)
        buffer.writeStaticString(#"{"channel":"#)
        self.writeString(publication.channel, into: &buffer)
        buffer.writeStaticString(#","data":"#)
        buffer.writeBytes(publication.data.bytes)
        buffer.writeStaticString(#","epoch":"#)
        self.writeString(publication.epoch, into: &buffer)
        if let info {
            buffer.writeStaticString(#","info":"#)
            buffer.writeBytes(info)
        }
        buffer.writeStaticString(#","offset":"#)
        buffer.writeString(String(publication.offset))
        buffer.writeStaticString(#","type":"publication"}"#)
        return buffer
    }

    /// A JSON string (RFC 8259 §7): quotes, backslashes and control characters escaped, everything else as
    /// its UTF-8 bytes, as Foundation's encoder writes it.
    static func writeString(_ string: String, into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString(#"\""#)
            case UInt8(ascii: "\\"): buffer.writeStaticString(#"\\"#)
            case 0x08: buffer.writeStaticString(#"\b"#)
            case 0x0C: buffer.writeStaticString(#"\f"#)
            case UInt8(ascii: "\n"): buffer.writeStaticString(#"\n"#)
            case UInt8(ascii: "\r"): buffer.writeStaticString(#"\r"#)
            case UInt8(ascii: "\t"): buffer.writeStaticString(#"\t"#)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                buffer.writeStaticString(#"\u00"#)
                buffer.writeInteger(hex[Int(byte >> 4)])
                buffer.writeInteger(hex[Int(byte & 0xF)])
            default:
                buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
