/// How a WebSocket connection's messages are encoded, chosen at the handshake by subprotocol
/// (`Sec-WebSocket-Protocol`).
public enum WireEncoding: String, Sendable, Hashable, CaseIterable {
    /// JSON text messages (docs/PROTOCOL.md): the default, also when the client offers no subprotocol.
    case json = "switchboard.v1.json"
    /// One protobuf message per binary message (proto/switchboard/v1/switchboard.proto).
    case protobuf = "switchboard.v1.protobuf"

    /// The subprotocol's name.
    public var subprotocol: String { self.rawValue }

    /// The encoding of a connection whose handshake chose `subprotocol` (none: JSON).
    public init(negotiated subprotocol: String?) {
        self = subprotocol.flatMap(WireEncoding.init(rawValue:)) ?? .json
    }
}
