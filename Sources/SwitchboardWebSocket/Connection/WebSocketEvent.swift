import NIOCore

/// What the peer said, as the application sees it.
public enum WebSocketEvent: Sendable, Hashable {
    /// A complete text message; its bytes are valid UTF-8.
    case text(ByteBuffer)
    /// A complete binary message.
    case binary(ByteBuffer)
    /// A ping; the engine has already written the pong.
    case ping(ByteBuffer)
    case pong(ByteBuffer)
    /// The peer's close frame (code ``CloseCode/noStatusReceived`` when it carried none). When it started
    /// the close, the engine has already written the answer.
    case close(CloseCode, reason: String)
    /// The peer broke the protocol: the engine wrote a close frame with `code` and waits for the peer's.
    /// `reason` names the violation for logs; it is not sent.
    case protocolViolation(CloseCode, reason: String)
}

/// What the transport must do after feeding the engine.
public enum WebSocketAction: Sendable, Hashable {
    /// All input is consumed; read more.
    case needMoreBytes
    case deliver(WebSocketEvent)
    /// A close frame went out: if the closing handshake does not finish within the close timeout, call
    /// ``WebSocketEngine/closeTimerFired()``.
    case startCloseTimer
    /// Write what is in the output buffer, then close the TCP connection.
    case closeTransport
}

/// Which end of the connection the engine plays: it decides masking (RFC 6455 §5.1) and who closes TCP.
public enum WebSocketRole: Sendable, Hashable {
    case server
    case client
}
