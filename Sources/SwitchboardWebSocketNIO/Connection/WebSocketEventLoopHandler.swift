import NIOCore
import SwitchboardWebSocket

/// Receives one connection's events on its event loop: the fastest way to use a connection.
///
/// Calls never overlap and happen on the connection's event loop; they must not block. Messages sent from
/// inside these calls are written together and flushed once per read batch; messages sent on the loop at
/// other times (a broadcast) are flushed once per event-loop turn, so a socket gets one write per turn. For
/// an `async` API, use ``WebSocketConnection`` instead.
public protocol WebSocketEventLoopHandler: AnyObject {
    /// The handshake completed; `connection` can send from now on.
    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection)
    /// A whole message arrived.
    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage)
    /// A pong arrived (answering our ping or unsolicited).
    func webSocket(_ connection: WebSocketEventLoopConnection, didReceivePong data: ByteBuffer)
    /// Every message of one read from the socket has been delivered. A handler that works off what arrives
    /// together as a batch (a client's pipelined commands) starts here rather than at the first message.
    func webSocketDidFinishReading(_ connection: WebSocketEventLoopConnection)
    /// The connection is over; called exactly once for a connection that opened, after which the connection
    /// drops this handler. (A client connection that never opened is reported by its connect future only.)
    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus)
}

extension WebSocketEventLoopHandler {
    public func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {}
    public func webSocket(_ connection: WebSocketEventLoopConnection, didReceivePong data: ByteBuffer) {}
    public func webSocketDidFinishReading(_ connection: WebSocketEventLoopConnection) {}
    public func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {}
}

/// The sending side of a connection for code running on its event loop (``WebSocketEventLoopHandler``).
///
/// Every member must be used on ``eventLoop``.
public struct WebSocketEventLoopConnection {
    let handler: WebSocketChannelHandler

    public var eventLoop: any EventLoop { self.handler.eventLoop }
    /// The peer's address.
    public var remoteAddress: SocketAddress? { self.handler.remoteAddress }
    /// The negotiated subprotocol, if any.
    public var subprotocol: String? { self.handler.subprotocol }
    /// What permessage-deflate the handshake agreed, if any.
    public var deflate: PerMessageDeflateParameters? { self.handler.engine?.deflate }
    /// Whatever the server's upgrade hook attached when it accepted (e.g. the authenticated user).
    public var context: (any Sendable)? { self.handler.acceptedContext }
    /// Lets go of ``context`` once it has been read: otherwise it lives as long as the connection (with a
    /// credential from the URL, say, a few hundred bytes on every idle connection).
    public func releaseContext() { self.handler.acceptedContext = nil }
    /// False while the socket's send buffer is above its high-water mark: a producer should pause.
    public var isWritable: Bool { self.handler.isWritable }
    /// True until a close frame was sent or received.
    public var isOpen: Bool { self.handler.isOpen }

    /// Queues a whole message. Throws when the connection is closing, or when the peer has stopped reading
    /// and the outbound buffer limit is reached (the connection is then closed).
    public func send(_ message: WebSocketMessage) throws {
        try self.handler.send(message)
    }

    /// Queues a message framed once for many connections (a broadcast): its frame bytes are written as they
    /// are, with no encoding or copy, unless permessage-deflate compresses the message on this connection.
    /// Throws as sending a ``WebSocketMessage`` does.
    public func send(_ prepared: WebSocketPreparedMessage) throws {
        try self.handler.send(prepared)
    }

    /// Writes what was sent outside a read batch now rather than at the end of the event-loop turn: call it
    /// when nothing more will be sent on this connection this turn (the last message of a broadcast batch),
    /// so the turn's bytes for this socket leave, and their buffer is freed, at once.
    public func flush() {
        self.handler.flushNow()
    }

    public func ping(_ data: ByteBuffer = ByteBuffer()) throws {
        try self.handler.sendPing(data)
    }

    /// Starts the close handshake; ``WebSocketEventLoopHandler/webSocketDidClose(_:status:)`` follows.
    public func close(code: CloseCode = .normalClosure, reason: String = "") {
        self.handler.initiateClose(code: code, reason: reason)
    }

    /// Stops reading from the socket until ``resumeReading()`` (inbound backpressure).
    public func pauseReading() { self.handler.setReadingPaused(true, by: .application) }
    public func resumeReading() { self.handler.setReadingPaused(false, by: .application) }
}
