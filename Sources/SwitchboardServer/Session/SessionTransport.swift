import NIOCore
import SwitchboardProtocol

/// What a ``ClientSession`` needs from the connection it runs on: a WebSocket or a Server-Sent Events
/// stream. Every call happens on the session's event loop.
protocol SessionTransport: AnyObject {
    /// Queues one server message for the client, encoded as its connection speaks. Throws when the
    /// connection is gone or the client stopped reading (the transport then closes it).
    func send(_ message: ServerMessage) throws
    /// Queues a push encoded once for many recipients (transports may share framing across recipients).
    func sendPush(_ push: EncodedPush) throws
    /// Nothing more comes for this client in this event-loop turn: what was queued may leave now.
    func flush()
    /// Tells the client why and ends the connection.
    func disconnect(_ disconnect: ServerMessage.Disconnect)
    /// "websocket" or "sse", for metrics and logs.
    var kind: TransportKind { get }
}

extension SessionTransport {
    /// A transport that writes on its own schedule (SSE's writer task) has nothing to do.
    func flush() {}
}

enum TransportKind: String, Sendable {
    case webSocket = "websocket"
    case sse
}
