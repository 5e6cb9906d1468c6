import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// Backpressure both ways over real sockets: a peer that stops reading is closed once the outbound limit
/// is passed; an application that stops reading stops the server reading the socket, so the sender waits.
@Suite struct BackpressureEndToEndTests {
    /// Sends 64 KiB messages as fast as the event loop allows, to a peer that does not read.
    final class Flooder: WebSocketEventLoopHandler {
        struct Outcome: Sendable {
            var bytesAccepted = 0
            var error: WebSocketTransportError?
            var closeStatus: WebSocketCloseStatus?
            var closeCalls = 0
        }

        static let cap = 64 << 20
        let outcome: NIOLockedValueBox<Outcome>
        let chunk = WebSocketMessage.binary(ByteBuffer(repeating: 0x5A, count: 64 << 10))

        init(outcome: NIOLockedValueBox<Outcome>) { self.outcome = outcome }

        func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
            connection.eventLoop.assumeIsolated().execute { self.pump(connection) }
        }

        func pump(_ connection: WebSocketEventLoopConnection) {
            for _ in 0..<8 {
                do {
                    try connection.send(self.chunk)
                } catch {
                    self.outcome.withLockedValue { $0.error = error as? WebSocketTransportError }
                    return
                }
                let total = self.outcome.withLockedValue { outcome -> Int in
                    outcome.bytesAccepted += self.chunk.data.readableBytes
                    return outcome.bytesAccepted
                }
                if total >= Self.cap { return }  // never stopped: the test fails on the missing error
            }
            connection.eventLoop.assumeIsolated().execute { self.pump(connection) }
        }

        func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {}

        func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
            self.outcome.withLockedValue {
                $0.closeStatus = status
                $0.closeCalls += 1
            }
        }
    }

    @Test(arguments: TestTransport.all) func aPeerThatStopsReadingIsClosedAtTheOutboundLimit(transport: TestTransport) async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.maximumOutboundBufferSize = 256 << 10
        configuration.connection.deflate = nil
        configuration.connection.heartbeat = nil
        let outcome = NIOLockedValueBox(Flooder.Outcome())
        try await withServer(transport: transport, configuration: configuration, handler: .eventLoop { _ in Flooder(outcome: outcome) }) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!, receiveBufferSize: 16 << 10)
            try await raw.stopReading()
            // The upgrade is read by hand: one read is enough for the 101, then the socket is left alone.
            try await raw.write(RawHTTP.upgradeRequest())
            raw.channel.read()
            #expect(await eventually { outcome.withLockedValue { $0.closeCalls } == 1 })
            let result = outcome.withLockedValue { $0 }
            #expect(result.error?.code == .outboundBufferFull, "\(String(describing: result.error))")
            #expect(result.closeStatus?.code == .policyViolation)
            // Bounded: what the kernel's socket buffers hold plus the limit, far below the flood's cap.
            #expect(result.bytesAccepted < 16 << 20, "accepted \(result.bytesAccepted) bytes for a peer that reads nothing")
            #expect(await eventually { server.connectionCount == 0 })
            // The peer, reading again, finds the end of the stream.
            try await raw.resumeReading()
            try await raw.readToEnd()
            #expect(outcome.withLockedValue { $0.closeCalls } == 1)
        }
    }

    /// Floods from inside a read batch (replying to a message): sends queued in a batch are not flushed yet,
    /// and the limit must count them too, then close the connection.
    final class RequestFlooder: WebSocketEventLoopHandler {
        let error: NIOLockedValueBox<WebSocketTransportError?>
        init(error: NIOLockedValueBox<WebSocketTransportError?>) { self.error = error }

        func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
            try? connection.send(.text("ack"))  // small: stays in the batch's output buffer
            let chunk = WebSocketMessage.binary(ByteBuffer(repeating: 0x5A, count: 64 << 10))
            for _ in 0..<1024 {
                do {
                    try connection.send(chunk)
                } catch {
                    self.error.withLockedValue { $0 = error as? WebSocketTransportError }
                    return
                }
            }
        }
    }

    @Test(arguments: TestTransport.all) func aPeerOverflowedInsideAReadBatchIsClosedAtOnce(transport: TestTransport) async throws {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.maximumOutboundBufferSize = 256 << 10
        configuration.connection.deflate = nil
        configuration.connection.heartbeat = nil
        let error = NIOLockedValueBox<WebSocketTransportError?>(nil)
        try await withServer(transport: transport, configuration: configuration, handler: .eventLoop { _ in RequestFlooder(error: error) }) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!, receiveBufferSize: 16 << 10)
            try await raw.stopReading()
            try await raw.write(RawHTTP.upgradeRequest())
            raw.channel.read()
            try await raw.send(RawFrame(opcode: RawFrame.text, payload: Array("flood me".utf8)))
            #expect(await eventually { error.withLockedValue { $0 }?.code == .outboundBufferFull })
            #expect(await eventually { server.connectionCount == 0 }, "the overflowed connection is still open")
        }
    }

    @Test(arguments: TestTransport.all) func anApplicationThatDoesNotReadStallsTheSenderUntilItReads(transport: TestTransport) async throws {
        let messageSize = 128 << 10
        let count = 256  // 32 MiB: far more than loopback socket buffers hold for a reader that stopped
        var configuration = WebSocketServerConfiguration()
        configuration.connection.deflate = nil
        configuration.connection.inboundBufferSize = 2
        let gate = NIOLockedValueBox(false)
        let handler = WebSocketServer.Handler.async { connection in
            while !gate.withLockedValue({ $0 }) { try? await Task.sleep(for: .milliseconds(5)) }
            var expected: UInt32 = 0
            var inOrder = true
            // Leaving the loop early would drop the sequence, which closes the connection: answer inside it.
            for await message in connection.inbound {
                inOrder = inOrder && message.data.getInteger(at: message.data.readerIndex, as: UInt32.self) == expected
                    && message.data.readableBytes == messageSize
                expected += 1
                if expected == count { try? await connection.send(.text(inOrder ? "in order: \(expected)" : "out of order")) }
            }
        }
        try await withServer(transport: transport, configuration: configuration, handler: handler) { _, url in
            var client = WebSocketClientConfiguration()
            client.connection.deflate = nil
            let connection = try await WebSocketClient.connect(to: url, configuration: client)
            let sent = NIOLockedValueBox(0)
            let sender = Task {
                var payload = ByteBuffer(repeating: 0xA5, count: messageSize)
                for index in 0..<count {
                    payload.setInteger(UInt32(index), at: payload.readerIndex)
                    try await connection.send(.binary(payload))
                    sent.withLockedValue { $0 += 1 }
                }
            }
            // Wait for the sender to start, then for it to stop making progress: no send completed for half a
            // second. Only the moment to look is taken from the clock; what is checked holds at any moment
            // while the server reads nothing (a send that never stops stalling would end the wait, and fail
            // the check, by completing them all).
            #expect(await eventually { sent.withLockedValue { $0 } > 0 })
            var last = -1
            var unchangedSince = ContinuousClock.now
            let stalled = await eventually {
                let now = sent.withLockedValue { $0 }
                if now == count { return true }
                if now != last {
                    last = now
                    unchangedSince = ContinuousClock.now
                }
                return ContinuousClock.now - unchangedSince > .milliseconds(500)
            }
            let atStall = sent.withLockedValue { $0 }
            #expect(stalled)
            #expect(atStall < count, "every send completed although the server read nothing")
            #expect(atStall > 0)
            // The server starts reading: everything arrives, in order, and the sender finishes.
            gate.withLockedValue { $0 = true }
            try await withTimeout(TestPatience.default, "the remaining sends") { try await sender.value }
            #expect(sent.withLockedValue { $0 } == count)
            let iterator = connection.inbound.makeAsyncIterator()
            let verdict = await iterator.next()
            let status = verdict == nil ? await connection.closeStatus : nil
            #expect(verdict == .text("in order: \(count)"), "\(String(describing: verdict?.text)) after \(atStall) at the stall, \(String(describing: status))")
            await connection.close()
        }
    }
}
