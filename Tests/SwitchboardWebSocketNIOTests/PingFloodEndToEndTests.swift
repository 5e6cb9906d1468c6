import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardWebSocketNIO

/// `maximumPingsPerSecond`: a peer that floods pings is closed with 1008 once past the limit; one within it
/// gets a pong for each.
@Suite struct PingFloodEndToEndTests {
    private static func configuration() -> WebSocketServerConfiguration {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.maximumPingsPerSecond = 5
        return configuration
    }

    @Test(arguments: TestTransport.all) func aPeerThatFloodsPingsIsClosedWith1008(transport: TestTransport) async throws {
        try await withServer(transport: transport, configuration: Self.configuration(), handler: asyncEcho) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!)
            _ = try await raw.upgrade()
            // Twenty at once: however a second's boundary splits them, one second holds more than five.
            try await raw.write((0..<20).flatMap { _ in RawFrame(opcode: RawFrame.ping, payload: [1]).encoded() })
            var pongs = 0
            var closeCode: UInt16?
            while let frame = try await raw.receive(RawFrame.parse) {
                if frame.opcode == RawFrame.pong {
                    pongs += 1
                } else {
                    #expect(frame.opcode == RawFrame.close)
                    closeCode = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
                    break
                }
            }
            #expect(closeCode == 1008)
            #expect(pongs >= 5 && pongs < 20, "\(pongs) pongs before the close")
            await raw.close()
        }
    }

    @Test(arguments: TestTransport.all) func aPeerWithinTheLimitGetsEveryPongAndStaysOpen(transport: TestTransport) async throws {
        try await withServer(transport: transport, configuration: Self.configuration(), handler: asyncEcho) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!)
            _ = try await raw.upgrade()
            try await raw.write((0..<5).flatMap { _ in RawFrame(opcode: RawFrame.ping, payload: [2]).encoded() }
                + RawFrame(opcode: RawFrame.text, payload: Array("still here".utf8)).encoded())
            var frames: [RawFrame] = []
            while frames.count < 6, let frame = try await raw.receive(RawFrame.parse) { frames.append(frame) }
            #expect(frames.prefix(5).allSatisfy { $0.opcode == RawFrame.pong })
            #expect(frames.last == RawFrame(opcode: RawFrame.text, payload: Array("still here".utf8)))
            await raw.close()
        }
    }
}
