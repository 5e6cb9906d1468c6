import Foundation
import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocketNIO

/// Writes publications as JSON text around their data's bytes as they are: the server never decodes a
/// publication's data, and never encodes it again (DESIGN.md, the delivery path), neither in a live push
/// nor in the publications a subscribe or history reply recovers.
///
/// The output is the same text the protocol's encoder gives for these messages (keys in sorted order, `/`
/// unescaped), so clients cannot tell which wrote it; tests hold the two to each other.
enum PublicationPushWriter {
    /// `{"channel":…,"data":…,"epoch":…,"info":…,"offset":…,"type":"publication"}` behind
    /// ``WebSocketPreparedMessage/headroom`` bytes left free for the frame header.
    static func write(_ publication: Publication) -> ByteBuffer {
        let headroom = WebSocketPreparedMessage.headroom
        var buffer = ByteBufferAllocator().buffer(capacity: headroom + 96 + publication.channel.utf8.count
            + publication.epoch.utf8.count + publication.data.bytes.count + (publication.info == nil ? 0 : 64))
        buffer.moveWriterIndex(forwardBy: headroom)
        buffer.moveReaderIndex(forwardBy: headroom)
        self.writeObject(publication, type: "publication", into: &buffer)
        return buffer
    }

    /// A subscribe reply that recovered publications, or a history reply: the only replies that carry
    /// publication data. Nil for any other message (the protocol's encoder writes those).
    static func writeReply(_ message: ServerMessage) -> ByteBuffer? {
        // Decided before any buffer is made: every reply of the node passes here.
        guard case .reply(let id, let reply) = message else { return nil }
        switch reply {
        case .subscribe(let result):
            guard let publications = result.publications, !publications.isEmpty else { return nil }
            var buffer = ByteBufferAllocator().buffer(capacity: 256)
            buffer.writeString(#"{"id":\#(id),"subscribe":{"epoch":"#)
            self.writeString(result.epoch, into: &buffer)
            buffer.writeString(#","offset":\#(result.offset),"publications":"#)
            self.writeArray(publications, into: &buffer)
            if let recovered = result.recovered { buffer.writeString(#","recovered":\#(recovered)"#) }
            buffer.writeStaticString(#"},"type":"reply"}"#)
            return buffer
        case .history(let result):
            var buffer = ByteBufferAllocator().buffer(capacity: 256)
            buffer.writeStaticString(#"{"history":{"epoch":"#)
            self.writeString(result.epoch, into: &buffer)
            buffer.writeString(#","offset":\#(result.offset),"publications":"#)
            self.writeArray(result.publications, into: &buffer)
            buffer.writeString(#"},"id":\#(id),"type":"reply"}"#)
            return buffer
        default:
            return nil
        }
    }

    private static func writeArray(_ publications: [Publication], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, publication) in publications.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            self.writeObject(publication, type: nil, into: &buffer)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
    }

    /// One publication's object; `type` is the push's, absent inside a reply's list.
    private static func writeObject(_ publication: Publication, type: StaticString?, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"channel":"#)
        self.writeString(publication.channel, into: &buffer)
        buffer.writeStaticString(#","data":"#)
        buffer.writeBytes(publication.data.bytes)
        buffer.writeStaticString(#","epoch":"#)
        self.writeString(publication.epoch, into: &buffer)
        if let info = publication.info {
            buffer.writeStaticString(#","info":"#)
            self.writeClient(info, into: &buffer)
        }
        buffer.writeString(#","offset":\#(publication.offset)"#)
        if let type {
            buffer.writeStaticString(#","type":""#)
            buffer.writeStaticString(type)
            buffer.writeInteger(UInt8(ascii: "\""))
        }
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    /// `{"client":…,"info":…,"user":…}`: by hand (an encoder per publication costs more than the rest of the
    /// push), except the application's own `info`, which the encoder writes.
    private static func writeClient(_ client: ClientInfo, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(#"{"client":"#)
        self.writeString(client.client, into: &buffer)
        if let info = client.info {
            buffer.writeStaticString(#","info":"#)
            buffer.writeBytes(RawJSON(info).bytes)
        }
        buffer.writeStaticString(#","user":"#)
        self.writeString(client.user, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "}"))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

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
                buffer.writeStaticString(#"\u00"#)
                buffer.writeInteger(Self.hexDigits[Int(byte >> 4)])
                buffer.writeInteger(Self.hexDigits[Int(byte & 0xF)])
            default:
                buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
