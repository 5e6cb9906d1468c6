import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

@Suite struct PreparedMessageTests {
    @Test(arguments: [0, 125, 126, 65_535, 65_536])
    func theFrameIsTheServerFrameOfTheMessage(payloadLength: Int) {
        let message = WebSocketMessage.binary(ByteBuffer(repeating: 0xA5, count: payloadLength))
        let prepared = WebSocketPreparedMessage(message)
        var expected = ByteBuffer()
        FrameEncoder.writeFrame(FrameHeader(opcode: .binary, payloadLength: payloadLength), payload: message.data, into: &expected)
        #expect(prepared.frame == expected)
        #expect(prepared.payloadLength == payloadLength)
        #expect(prepared.message == message)
    }

    @Test func textKeepsItsKind() {
        let prepared = WebSocketPreparedMessage(.text("héllo"))
        #expect(prepared.kind == .text)
        #expect(prepared.message.text == "héllo")
        #expect(prepared.frame.getInteger(at: 0, as: UInt8.self) == 0x81)
    }
}

/// The broadcast path over real sockets: one prepared message to many connections, with and without
/// permessage-deflate, in order with ordinary sends, and bounded for a peer that stops reading.
@Suite struct PreparedMessageEndToEndTests {
    struct Subscriber: Sendable {
        var connection: NIOLoopBound<WebSocketEventLoopConnection>
        var deflates: Bool
    }

    /// Remembers each opened connection so the test can broadcast to all of them.
    final class Subscribing: WebSocketEventLoopHandler {
        let subscribers: NIOLockedValueBox<[Subscriber]>
        init(subscribers: NIOLockedValueBox<[Subscriber]>) { self.subscribers = subscribers }

        func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
            let subscriber = Subscriber(connection: NIOLoopBound(connection, eventLoop: connection.eventLoop),
                                        deflates: connection.handler.engine?.deflate != nil)
            self.subscribers.withLockedValue { $0.append(subscriber) }
        }

        func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {}
    }

    @Test(arguments: TestTransport.all) func aBroadcastReachesEveryClientIntactWithAndWithoutDeflate(transport: TestTransport) async throws {
        let subscribers = NIOLockedValueBox<[Subscriber]>([])
        try await withServer(transport: transport, handler: .eventLoop { _ in Subscribing(subscribers: subscribers) }) { server, url in
            var plain = WebSocketClientConfiguration()
            plain.connection.deflate = nil
            var clients: [WebSocketConnection] = []
            for index in 0..<6 {
                clients.append(try await WebSocketClient.connect(to: url, configuration: index % 2 == 0 ? plain : WebSocketClientConfiguration()))
            }
            #expect(await eventually { subscribers.withLockedValue { $0.count } == clients.count })
            #expect(subscribers.withLockedValue { $0.filter(\.deflates).count } == 3)

            // Below the compression threshold (shared even with deflate), above it (compressed per
            // connection with deflate), and large enough for a 64-bit length.
            let messages: [WebSocketMessage] = [
                .text("tick"),
                .text(String(repeating: "publication ", count: 200)),
                .binary((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }),
            ]
            for message in messages {
                let prepared = WebSocketPreparedMessage(message)
                for subscriber in subscribers.withLockedValue({ $0 }) {
                    let connection = subscriber.connection
                    connection.eventLoop.execute { try? connection.value.send(prepared) }
                }
            }
            for client in clients {
                var received: [WebSocketMessage] = []
                let iterator = client.inbound.makeAsyncIterator()
                while received.count < messages.count, let message = await iterator.next() { received.append(message) }
                #expect(received == messages)
            }
            for client in clients { await client.close() }
        }
    }

    /// Replies to each message with an ordinary send, the prepared message, and another ordinary send, all
    /// inside the read batch.
    final class SandwichReplier: WebSocketEventLoopHandler {
        let prepared: WebSocketPreparedMessage
        init(prepared: WebSocketPreparedMessage) { self.prepared = prepared }

        func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
            try? connection.send(.text("before"))
            try? connection.send(self.prepared)
            try? connection.send(.text("after"))
        }
    }

    @Test(arguments: TestTransport.all) func insideAReadBatchThePreparedFrameKeepsItsPlaceAmongOtherSends(transport: TestTransport) async throws {
        let prepared = WebSocketPreparedMessage(.binary([1, 2, 3, 4, 5] as [UInt8]))
        try await withServer(transport: transport, handler: .eventLoop { _ in SandwichReplier(prepared: prepared) }) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!)
            defer { Task { await raw.close() } }
            _ = try await raw.upgrade()
            // Two messages in one write: both replies come out of one read batch.
            try await raw.write(RawFrame(opcode: RawFrame.text, payload: Array("a".utf8)).encoded()
                + RawFrame(opcode: RawFrame.text, payload: Array("b".utf8)).encoded())
            var frames: [RawFrame] = []
            while frames.count < 6, let frame = try await raw.nextFrame() { frames.append(frame) }
            let sandwich = [RawFrame(opcode: RawFrame.text, payload: Array("before".utf8)),
                            RawFrame(opcode: RawFrame.binary, payload: [1, 2, 3, 4, 5]),
                            RawFrame(opcode: RawFrame.text, payload: Array("after".utf8))]
            #expect(frames == sandwich + sandwich)
        }
    }

    /// Sends one prepared 64 KiB message over and over to a peer that does not read.
    final class PreparedFlooder: WebSocketEventLoopHandler {
        let error: NIOLockedValueBox<WebSocketTransportError?>
        let bytesAccepted: NIOLockedValueBox<Int>
        let prepared = WebSocketPreparedMessage(.binary(ByteBuffer(repeating: 0x5A, count: 64 << 10)))

        init(error: NIOLockedValueBox<WebSocketTransportError?>, bytesAccepted: NIOLockedValueBox<Int>) {
            self.error = error
            self.bytesAccepted = bytesAccepted
        }

        func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
            connection.eventLoop.assumeIsolated().execute { self.pump(connection) }
        }

        func pump(_ connection: WebSocketEventLoopConnection) {
            for _ in 0..<8 {
                do {
                    try connection.send(self.prepared)
                } catch {
                    self.error.withLockedValue { $0 = error as? WebSocketTransportError }
                    return
                }
                let total = self.bytesAccepted.withLockedValue { total -> Int in
                    total += self.prepared.payloadLength
                    return total
                }
                if total >= 64 << 20 { return }  // never stopped: the test fails on the missing error
            }
            connection.eventLoop.assumeIsolated().execute { self.pump(connection) }
        }

        func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {}
    }

    @Test(arguments: TestTransport.all) func aPeerThatStopsReadingIsClosedAtTheOutboundLimit(transport: TestTransport) async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.maximumOutboundBufferSize = 256 << 10
        configuration.connection.deflate = nil
        configuration.connection.heartbeat = nil
        let error = NIOLockedValueBox<WebSocketTransportError?>(nil)
        let bytesAccepted = NIOLockedValueBox(0)
        try await withServer(transport: transport, configuration: configuration,
                             handler: .eventLoop { _ in PreparedFlooder(error: error, bytesAccepted: bytesAccepted) }) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!, receiveBufferSize: 16 << 10)
            try await raw.stopReading()
            try await raw.write(RawHTTP.upgradeRequest())
            raw.channel.read()
            #expect(await eventually { error.withLockedValue { $0 }?.code == .outboundBufferFull })
            #expect(bytesAccepted.withLockedValue { $0 } < 16 << 20)
            #expect(await eventually { server.connectionCount == 0 })
            await raw.close()
        }
    }
}
