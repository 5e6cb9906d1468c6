import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// A client that breaks RFC 6455 after the handshake gets the right close frame, and then the server
/// closes TCP: at once when the client answers the close, after the close timeout when it does not (the
/// engine skips the failed peer's frames until its close frame or the timer, see `WebSocketEngine.fail`).
/// "At once" is shown by a close timeout no test waits out; the timer's deadline itself is checked on a
/// test clock in ``ConnectionTimerTests``.
@Suite struct ProtocolViolationEndToEndTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var bytes: [UInt8]
        var expectedCode: UInt16
        var testDescription: String { self.name }
    }

    static let cases: [Case] = [
        Case(name: "unmasked frame", bytes: RawFrame(opcode: RawFrame.text, payload: Array("hi".utf8)).encoded(maskKey: nil),
             expectedCode: 1002),
        Case(name: "reserved opcode", bytes: RawFrame(opcode: 0x3, payload: []).encoded(), expectedCode: 1002),
        Case(name: "continuation without a start", bytes: RawFrame(opcode: RawFrame.continuation, payload: [1]).encoded(),
             expectedCode: 1002),
        Case(name: "invalid UTF-8 text", bytes: RawFrame(opcode: RawFrame.text, payload: [0x61, 0xC3, 0x28]).encoded(),
             expectedCode: 1007),
        Case(name: "invalid UTF-8 across fragments",
             bytes: RawFrame(fin: false, opcode: RawFrame.text, payload: [0x61, 0xE2, 0x82]).encoded()
                 + RawFrame(opcode: RawFrame.continuation, payload: [0x28]).encoded(),
             expectedCode: 1007),
        Case(name: "frame over the 1 KiB limit", bytes: RawFrame(opcode: RawFrame.binary, payload: [UInt8](repeating: 1, count: 2000)).encoded(),
             expectedCode: 1009),
        Case(name: "fragmented message over the 1 KiB limit",
             bytes: RawFrame(fin: false, opcode: RawFrame.binary, payload: [UInt8](repeating: 1, count: 700)).encoded()
                 + RawFrame(opcode: RawFrame.continuation, payload: [UInt8](repeating: 2, count: 700)).encoded(),
             expectedCode: 1009),
    ]

    /// Each case with each peer behaviour on each transport (Swift Testing takes two argument lists at most).
    static let peerBehaviours = TestTransport.all.flatMap { transport in [true, false].map { (answers: $0, transport: transport) } }

    @Test(arguments: cases, peerBehaviours)
    func aViolationGetsItsCloseCodeAndTheConnectionIsClosed(_ violation: Case, peer: (answers: Bool, transport: TestTransport)) async throws {
        let (peerAnswersClose, transport) = (peer.answers, peer.transport)
        var configuration = WebSocketServerConfiguration()
        configuration.connection.limits = WebSocketLimits(maximumFrameSize: 1024, maximumMessageSize: 1024)
        // A peer that answers must not wait for the timer, so its timer is one no test outlasts; a peer that
        // does not answer is closed by the timer, not before it.
        let closeTimeout: TimeAmount = peerAnswersClose ? .hours(1) : .milliseconds(500)
        configuration.connection.closeTimeout = closeTimeout
        configuration.connection.deflate = nil
        let statuses = NIOLockedValueBox<[WebSocketCloseStatus]>([])
        let recording = WebSocketServer.Handler.async { connection in
            for await message in connection.inbound { try? await connection.send(message) }
            let status = await connection.closeStatus
            statuses.withLockedValue { $0.append(status) }
        }
        try await withServer(transport: transport, configuration: configuration, handler: recording) { server, _ in
            let raw = try await RawConnection.connect(port: server.localAddress!.port!)
            _ = try await raw.upgrade()
            // A valid message first, so the violation is not confused with a broken connection.
            try await raw.send(RawFrame(opcode: RawFrame.text, payload: Array("ok".utf8)))
            #expect(try await raw.nextFrame() == RawFrame(opcode: RawFrame.text, payload: Array("ok".utf8)))

            let sentAt = ContinuousClock.now
            try await raw.write(violation.bytes)
            let close = try await raw.nextFrame()
            #expect(close?.opcode == RawFrame.close)
            #expect(close?.closeCode == violation.expectedCode, "\(String(describing: close))")
            if peerAnswersClose {
                try await raw.send(.closeFrame(code: violation.expectedCode))
                try await raw.readToEnd()
            } else {
                try await raw.readToEnd()
                let elapsed = ContinuousClock.now - sentAt
                #expect(elapsed >= .milliseconds(450), "closed after \(elapsed), before the close timeout")
            }
            #expect(await eventually { server.connectionCount == 0 })
            #expect(await eventually { statuses.withLockedValue { $0.count } == 1 })
            #expect(statuses.withLockedValue { $0.first?.code.rawValue } == violation.expectedCode)
        }
    }
}
