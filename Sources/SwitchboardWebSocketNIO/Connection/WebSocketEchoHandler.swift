import NIOCore

/// Sends every message straight back as it came, on the event loop: one write per read batch, no task hops.
///
/// What `switchboard echo` serves and what the Autobahn client runs; handy for testing clients. Because the
/// echo is queued while the read batch that carried the message is still being processed, it goes out even
/// when a protocol violation later in the same batch fails the connection.
public final class WebSocketEchoHandler: WebSocketEventLoopHandler {
    private var onClose: ((WebSocketCloseStatus) -> Void)?

    /// - Parameter onClose: called once, on the event loop, when the connection is over.
    public init(onClose: ((WebSocketCloseStatus) -> Void)? = nil) {
        self.onClose = onClose
    }

    public func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
        // A send fails only when the connection is closing or the peer stopped reading; either way the
        // connection is on its way out and there is nothing more to echo.
        try? connection.send(message)
    }

    public func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
        self.onClose?(status)
        self.onClose = nil
    }
}
