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
    /// What the handshake's subprotocol chose.
    private var encoding = WireEncoding.json

    init(context: ServerContext) {
        self.context = context
    }

    var kind: TransportKind { .webSocket }

    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
        self.connection = connection
        self.encoding = WireEncoding(negotiated: connection.subprotocol)
        let upgrade = connection.context as? UpgradeContext
        connection.releaseContext()
        self.lease = upgrade?.lease
        self.context.metrics.connectionOpened(.webSocket)
        if connection.deflate != nil { self.context.metrics.compressedConnectionOpened() }
        let session = ClientSession(context: self.context, eventLoop: connection.eventLoop, transport: self,
                                    remoteAddress: upgrade?.clientAddress ?? connection.remoteAddress?.ipAddress)
        self.session = session
        session.opened(credential: upgrade?.credential)
    }

    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
        self.context.metrics.messageReceived(bytes: message.data.readableBytes)
        switch (self.encoding, message.kind) {
        case (.json, .text):
            // Held until the read is delivered whole: consecutive publishes then run as one batch.
            self.session?.holdCommands()
            self.session?.received(message.data)
        case (.protobuf, .binary):
            self.session?.holdCommands()
            self.session?.receivedProtobuf(message.data)
        case (.json, .binary), (.protobuf, .text):
            self.session?.receivedWrongKind(self.encoding)
        }
    }

    func webSocketDidFinishReading(_ connection: WebSocketEventLoopConnection) {
        self.session?.releaseCommands()
    }

    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
        // A client dropped for not reading reports 4001 (the transport's slowConsumerCloseCode).
        self.context.metrics.connectionClosed(.webSocket, code: status.code.rawValue)
        if connection.deflate != nil { self.context.metrics.compressedConnectionClosed() }
        self.session?.transportClosed()
        self.session = nil
        self.connection = nil
        self.lease?.release()
        self.lease = nil
    }

    // MARK: - SessionTransport

    func send(_ message: ServerMessage) throws {
        guard let connection = self.connection else { throw SessionTransportClosed() }
        let encoded = switch self.encoding {
        case .json: WebSocketMessage(kind: .text, data: ServerMessageEncoder.encode(message))
        case .protobuf: WebSocketMessage(kind: .binary, data: ByteBuffer(bytes: message.protobufEncoded()))
        }
        try self.noticingSlowConsumer { try connection.send(encoded) }
        self.context.metrics.messagesSent(bytes: encoded.data.readableBytes)
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
        switch self.encoding {
        case .json: try self.noticingSlowConsumer { try connection.send(push.frame) }
        case .protobuf: try self.noticingSlowConsumer { try connection.send(push.protobufFrame) }
        }
    }

    func flush() {
        self.connection?.flush()
    }

    func disconnect(_ disconnect: ServerMessage.Disconnect) {
        guard let connection = self.connection else { return }
        try? self.send(.disconnect(disconnect))
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
