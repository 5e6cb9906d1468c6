import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// Runs a ``ClientSession`` over one WebSocket connection, on the connection's event loop.
///
/// Text messages are commands; binary messages are not part of the protocol (the client gets an error
/// reply, the connection stays). Disconnects use the protocol's code as the WebSocket close code, so a
/// client sees the same code whether it reads the `disconnect` push or the close frame.
final class WebSocketSessionHandler: WebSocketEventLoopHandler, SessionTransport {
    private let context: ServerContext
    private var connection: WebSocketEventLoopConnection?
    private var session: ClientSession?
    /// The connection's slot in the node's connection limits, given back when it closes.
    private var lease: ConnectionLease?

    init(context: ServerContext) {
        self.context = context
    }

    var kind: TransportKind { .webSocket }

    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
        self.connection = connection
        let upgrade = connection.context as? UpgradeContext
        connection.releaseContext()
        self.lease = upgrade?.lease
        self.context.metrics.connectionOpened(.webSocket)
        let session = ClientSession(context: self.context, eventLoop: connection.eventLoop, transport: self,
                                    remoteAddress: upgrade?.clientAddress ?? connection.remoteAddress?.ipAddress)
        self.session = session
        session.opened(credential: upgrade?.credential)
    }

    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
        self.context.metrics.messageReceived(bytes: message.data.readableBytes)
        switch message.kind {
        case .text:
            // Held until the read is delivered whole: consecutive publishes then run as one batch.
            self.session?.holdCommands()
            self.session?.received(message.data)
        case .binary:
            self.session?.receivedBinary()
        }
    }

    func webSocketDidFinishReading(_ connection: WebSocketEventLoopConnection) {
        self.session?.releaseCommands()
    }

    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
        // A client dropped for not reading reports 4001 (the transport's slowConsumerCloseCode).
        self.context.metrics.connectionClosed(.webSocket, code: status.code.rawValue)
        self.session?.transportClosed()
        self.session = nil
        self.connection = nil
        self.lease?.release()
        self.lease = nil
    }

    // MARK: - SessionTransport

    func send(_ json: ByteBuffer) throws {
        guard let connection = self.connection else { throw SessionTransportClosed() }
        try self.noticingSlowConsumer { try connection.send(WebSocketMessage(kind: .text, data: json)) }
        self.context.metrics.messagesSent(bytes: json.readableBytes)
    }

    private func noticingSlowConsumer(_ send: () throws -> Void) throws {
        do {
            try send()
        } catch let error as WebSocketTransportError where error.isOutboundBufferFull {
            self.context.logger.info("Dropped a slow consumer", metadata: ["client": "\(self.session?.clientID ?? "?")"])
            throw error
        }
    }

    func sendPush(_ push: EncodedPush) throws {
        guard let connection = self.connection else { throw SessionTransportClosed() }
        try self.noticingSlowConsumer { try connection.send(push.frame) }
    }

    func flush() {
        self.connection?.flush()
    }

    func disconnect(_ disconnect: ServerMessage.Disconnect) {
        guard let connection = self.connection else { return }
        try? connection.send(WebSocketMessage(kind: .text, data: ServerMessageEncoder.encode(.disconnect(disconnect))))
        connection.close(code: CloseCode(rawValue: disconnect.code.rawValue), reason: Self.closeReason(disconnect.reason))
    }

    /// RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of them the code; cut on a character.
    static func closeReason(_ reason: String) -> String {
        guard reason.utf8.count > 123 else { return reason }
        var cut = ""
        for character in reason {
            guard cut.utf8.count + character.utf8.count <= 123 else { break }
            cut.append(character)
        }
        return cut
    }
}
