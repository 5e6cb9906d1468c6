import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// The on-loop API (`.eventLoop` handlers): pipelined messages echo back in order, and each connection
/// reports its end exactly once.
@Suite struct EventLoopAPIEndToEndTests {
    struct Calls: Sendable {
        var opens = 0
        var messages = 0
        var closes: [WebSocketCloseStatus] = []
        var wrongLoop = 0
    }

    final class CountingEcho: WebSocketEventLoopHandler {
        let calls: NIOLockedValueBox<Calls>
        init(calls: NIOLockedValueBox<Calls>) { self.calls = calls }

        private func check(_ connection: WebSocketEventLoopConnection) {
            if !connection.eventLoop.inEventLoop { self.calls.withLockedValue { $0.wrongLoop += 1 } }
        }

        func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
            self.check(connection)
            self.calls.withLockedValue { $0.opens += 1 }
        }

        func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
            self.check(connection)
            self.calls.withLockedValue { $0.messages += 1 }
            try? connection.send(message)
        }

        func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
            self.check(connection)
            self.calls.withLockedValue { $0.closes.append(status) }
        }
    }

    /// 1,000 messages of sizes across every length encoding (7-bit, 16-bit, 64-bit), text and binary;
    /// made once, cheaply (the tests run unoptimised).
    static let messages: [RawFrame] = {
        var generator = SeededGenerator(seed: 0x5EED)
        return (0..<1000).map { index in
            let size: Int
            switch index % 10 {
            case 0: size = 0
            case 1...5: size = Int(generator.next() % 126)
            case 6...8: size = 126 + Int(generator.next() % 4000)
            default: size = index % 100 == 9 ? 65_536 + Int(generator.next() % 10_000) : 200
            }
            let seed = generator.next()
            var payload = [UInt8](repeating: 0, count: size)
            payload.withUnsafeMutableBufferPointer { bytes in
                var state = seed
                for position in bytes.indices {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    bytes[position] = UInt8(truncatingIfNeeded: state >> 33)
                }
                // Text is lowercase ASCII letters, so it is valid UTF-8.
                if index % 3 == 0 { for position in bytes.indices { bytes[position] = 97 + bytes[position] % 26 } }
            }
            return RawFrame(opcode: index % 3 == 0 ? RawFrame.text : RawFrame.binary, payload: payload)
        }
    }()

    @Test(arguments: TestTransport.all) func pipelinedRawFramesAllComeBackInOrder(transport: TestTransport) async throws {
        let calls = NIOLockedValueBox(Calls())
        var configuration = WebSocketServerConfiguration()
        configuration.connection.deflate = nil
        try await withServer(transport: transport, configuration: configuration, handler: .eventLoop { _ in CountingEcho(calls: calls) }) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!)
            let messages = Self.messages
            // The handshake and every message in one write: the server sees them in as few reads as TCP allows.
            var bytes = ByteBuffer(string: RawHTTP.upgradeRequest())
            for message in messages { bytes.writeBytes(message.encoded()) }
            try await raw.write(bytes)
            guard let response = try await raw.receive(RawHTTPResponse.parseHead) else { throw TestFailure("no 101") }
            #expect(response.status == 101)
            var echoed: [RawFrame] = []
            while echoed.count < messages.count, let frame = try await raw.nextFrame() { echoed.append(frame) }
            #expect(echoed.count == messages.count)
            #expect(echoed == messages)  // a mismatch prints huge diffs; the count check above says more
            try await raw.send(.closeFrame(code: 1000, reason: "bye"))
            let close = try await raw.nextFrame()
            #expect(close?.closeCode == 1000)
            try await raw.readToEnd()
            #expect(await eventually { calls.withLockedValue { $0.closes.count } >= 1 })
            try await settleEventLoops()  // a second call would have been made by now
            let result = calls.withLockedValue { $0 }
            #expect(result.opens == 1)
            #expect(result.messages == messages.count)
            #expect(result.closes.map(\.code) == [.normalClosure])
            #expect(result.closes.first?.reason == "bye")
            #expect(result.closes.first?.initiatedLocally == false)
            #expect(result.wrongLoop == 0)
        }
    }

    @Test(arguments: TestTransport.all) func anAsyncClientPipelinesThroughAnEventLoopServer(transport: TestTransport) async throws {
        let calls = NIOLockedValueBox(Calls())
        try await withServer(transport: transport, handler: .eventLoop { _ in CountingEcho(calls: calls) }) { server, url in
            let connection = try await WebSocketClient.connect(to: url)
            let messages: [WebSocketMessage] = Self.messages.map {
                $0.opcode == RawFrame.text ? .text(String(decoding: $0.payload, as: UTF8.self)) : .binary($0.payload)
            }
            // Read concurrently: the client's inbound buffer is bounded, so a reader that waits for every send
            // to finish would (rightly) stall the whole pipe. The reader reads to the end: leaving the loop
            // early would drop the sequence, which closes the connection from the client's side.
            let count = NIOLockedValueBox(0)
            let reader = Task { () -> [WebSocketMessage] in
                var received: [WebSocketMessage] = []
                for await message in connection.inbound {
                    received.append(message)
                    count.withLockedValue { $0 += 1 }
                }
                return received
            }
            for message in messages { try await connection.send(message) }
            #expect(await eventually { count.withLockedValue { $0 } == messages.count })
            // The server ends it this time; the handler still hears of it exactly once.
            await server.shutdown(gracePeriod: .seconds(2))
            let received = try await withTimeout(TestPatience.default, "the end of the inbound sequence") { await reader.value }
            #expect(received.count == messages.count)
            #expect(received == messages)
            #expect(await connection.closeStatus.code == .goingAway)
            try await settleEventLoops()
            let result = calls.withLockedValue { $0 }
            #expect(result.opens == 1)
            #expect(result.closes.count == 1)
            #expect(result.closes.first?.code == .goingAway)
            #expect(result.closes.first?.initiatedLocally == true)
            #expect(result.wrongLoop == 0)
        }
    }
}

