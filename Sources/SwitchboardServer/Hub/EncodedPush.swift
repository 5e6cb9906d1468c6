import Atomics
import Foundation
import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocketNIO

/// A push encoded once for every recipient on the node: the JSON text of a `ServerMessage`.
///
/// A publication to 10,000 subscribers is encoded here once, not 10,000 times; transports frame these
/// bytes (a WebSocket text frame, an SSE `data:` line) without re-encoding the JSON.
///
/// A class: a delivery hands the same value to every recipient, and a reference costs one count where a
/// struct of two buffers would cost a copy each.
///
/// The protobuf subprotocol's frame (``protobufFrame``) is made by the first recipient that speaks it, on
/// whichever event loop, and shared by all after it: a channel without protobuf subscribers never pays for it.
final class EncodedPush: Sendable {
    let json: ByteBuffer
    /// The same JSON as one WebSocket text frame, shared by every WebSocket recipient.
    let frame: WebSocketPreparedMessage
    /// When the broker handed the push to this node: the start of its delivery latency.
    let receivedAt: NIODeadline
    /// What the push says, for the encodings made on demand.
    private let message: ServerMessage
    private let protobuf = ManagedAtomicLazyReference<PreparedFrame>()

    init(_ message: ServerMessage, receivedAt: NIODeadline = .now()) {
        self.json = ServerMessageEncoder.encode(message)
        self.frame = WebSocketPreparedMessage(WebSocketMessage(kind: .text, data: self.json))
        self.receivedAt = receivedAt
        self.message = message
    }

    /// The push as one binary frame of `switchboard.v1.protobuf`, encoded once for every recipient.
    var protobufFrame: WebSocketPreparedMessage {
        if let made = self.protobuf.load() { return made.frame }
        let frame = WebSocketPreparedMessage(WebSocketMessage(kind: .binary, data: ByteBuffer(bytes: self.message.protobufEncoded())))
        // Two loops may race to make it: the first stored is the one every recipient gets.
        return self.protobuf.storeIfNilThenLoad(PreparedFrame(frame)).frame
    }

    /// A publication's push, written once around the bytes of its data (``PublicationPushWriter``) behind
    /// room for the frame header: the data is copied once, into the push, and the push never again.
    init(publication: Publication, receivedAt: NIODeadline = .now()) {
        let frame = WebSocketPreparedMessage(kind: .text, payloadAfterHeadroom: PublicationPushWriter.write(publication))
        self.frame = frame
        self.json = frame.message.data
        self.receivedAt = receivedAt
        self.message = .publication(publication)
    }
}

/// A prepared frame behind a reference, for ``EncodedPush``'s atomic lazy slot.
private final class PreparedFrame: Sendable {
    let frame: WebSocketPreparedMessage

    init(_ frame: WebSocketPreparedMessage) {
        self.frame = frame
    }
}

/// What the hub delivers to a channel's subscribers: a publication or a presence event, with its bytes.
final class HubPush: Sendable {
    enum Kind: Sendable {
        case publication(Publication)
        case presence(PresenceChange, ClientInfo)
    }

    let kind: Kind
    let channel: String
    let encoded: EncodedPush

    init(publication: Publication, receivedAt: NIODeadline = .now()) {
        self.kind = .publication(publication)
        self.channel = publication.channel
        self.encoded = EncodedPush(publication: publication, receivedAt: receivedAt)
    }

    init(_ change: PresenceChange, client: ClientInfo, channel: String) {
        self.kind = .presence(change, client)
        self.channel = channel
        let event = ServerMessage.PresenceEvent(channel: channel, info: client)
        self.encoded = EncodedPush(change == .join ? .join(event) : .leave(event))
    }
}

/// Encodes server messages to JSON bytes.
enum ServerMessageEncoder {
    /// One encoder for every message: its configuration never changes after this, and encoding does not
    /// mutate it, so sharing it across event loops is safe and saves an allocation per reply and push.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        // Stable output (tests compare bytes; caches and diffs stay quiet) and no escaped slashes in channels.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func encode(_ message: ServerMessage) -> ByteBuffer {
        // Replies that carry publications splice their data's bytes rather than decode and encode each.
        if let written = PublicationPushWriter.writeReply(message) { return written }
        do {
            return ByteBuffer(bytes: try Self.encoder.encode(message))
        } catch {
            // Every ServerMessage field is plain data (strings, numbers, JSONValue): encoding cannot fail
            // short of a non-finite Double in application data, which JSON cannot carry.
            let fallback = ServerMessage.error(id: nil, .init(code: .internalError, message: "unencodable message: \(error)"))
            return ByteBuffer(bytes: (try? Self.encoder.encode(fallback)) ?? Data())
        }
    }
}
