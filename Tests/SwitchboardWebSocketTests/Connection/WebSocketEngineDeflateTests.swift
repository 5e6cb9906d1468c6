import NIOCore
import Testing
@testable import SwitchboardWebSocket

@Suite struct WebSocketEngineDeflateTests {
    let agreement = PerMessageDeflateParameters()

    /// RFC 7692 §7.2.3.1: "Hello" as one compressed, unmasked frame from a server.
    @Test func rfc7692HelloThroughAClientEngine() {
        let frame: [UInt8] = [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        for chunks in splits(of: frame) {
            var engine = WebSocketEngine(role: .client, deflate: agreement, maskingKeySource: CountingKeySource())
            #expect(run(&engine, chunks: chunks).events == [.text(ByteBuffer(string: "Hello"))])
        }
    }

    /// RFC 7692 §7.2.3.1: the same message in two fragments, RSV1 only on the first.
    @Test func rfc7692FragmentedHello() {
        let frames: [UInt8] = [0x41, 0x03, 0xF2, 0x48, 0xCD, 0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00]
        for chunks in splits(of: frames) {
            var engine = WebSocketEngine(role: .client, deflate: agreement, maskingKeySource: CountingKeySource())
            #expect(run(&engine, chunks: chunks).events == [.text(ByteBuffer(string: "Hello"))])
        }
    }

    @Test(arguments: [false, true])
    func compressedRoundTripBetweenEngines(noContextTakeover: Bool) throws {
        let parameters = PerMessageDeflateParameters(serverNoContextTakeover: noContextTakeover, clientNoContextTakeover: noContextTakeover,
                                                     serverMaxWindowBits: 10, clientMaxWindowBits: 9)
        let configuration = PerMessageDeflateConfiguration(compressionThreshold: 8)
        var client = WebSocketEngine(role: .client, deflate: parameters, deflateConfiguration: configuration, maskingKeySource: CountingKeySource())
        var server = WebSocketEngine(role: .server, deflate: parameters, deflateConfiguration: configuration)
        let messages = ["tiny", String(repeating: "switchboard ", count: 400), "κόσμε " + String(repeating: "é", count: 3000), ""]
        var wire = ByteBuffer()
        for message in messages { try client.send(.text, payload: ByteBuffer(string: message), output: &wire) }
        // Compression happened: the repetitive messages take far less than their size on the wire.
        #expect(wire.readableBytes < messages.map(\.utf8.count).reduce(0, +) / 4)
        let transcript = run(&server, chunks: splits(of: Array(wire.readableBytesView), seeds: 3...3).last!)
        #expect(transcript.events == messages.map { .text(ByteBuffer(string: $0)) })
        // And back, server to client.
        var reply = ByteBuffer()
        for message in messages { try server.send(.binary, payload: ByteBuffer(string: message), output: &reply) }
        #expect(run(&client, chunks: [Array(reply.readableBytesView)]).events == messages.map { .binary(ByteBuffer(string: $0)) })
    }

    /// RFC 7692 §6.1: RSV1 belongs on the first frame of a data message only.
    @Test func rsv1OnControlOrContinuationFramesFails() {
        let cases: [[UInt8]] = [
            clientFrame(0x9, [], rsv: 0b100),
            clientFrame(0x1, [0xF2, 0x48, 0xCD], fin: false, rsv: 0b100) + clientFrame(0x0, [0xC9, 0xC9, 0x07, 0x00], rsv: 0b100),
        ]
        for bytes in cases {
            var engine = WebSocketEngine(role: .server, deflate: agreement)
            let transcript = run(&engine, chunks: [bytes])
            #expect(transcript.closeCodeSent == 1002)
        }
    }

    /// A small compressed frame that inflates past the message limit is a bomb: 1009, with the inflated
    /// bytes never exceeding the limit.
    @Test func decompressionBombEarns1009() throws {
        var compressor = MessageCompressor(noContextTakeover: true, windowBits: 15, level: 9, memoryLevel: 9)
        var bomb = ByteBuffer()
        try compressor.compress(ByteBuffer(repeating: 0, count: 8 << 20), into: &bomb)
        #expect(bomb.readableBytes < 16 << 10)
        var engine = WebSocketEngine(role: .server, limits: WebSocketLimits(maximumFrameSize: 1 << 20, maximumMessageSize: 1 << 20), deflate: agreement)
        let transcript = run(&engine, chunks: [clientFrame(0x2, Array(bomb.readableBytesView), rsv: 0b100)])
        #expect(transcript.closeCodeSent == 1009)
        #expect(transcript.events.first == .protocolViolation(.messageTooBig, reason: "message exceeds the limit of 1048576 bytes"))
    }

    @Test func corruptCompressedDataIsAProtocolError() {
        var engine = WebSocketEngine(role: .server, deflate: agreement)
        let transcript = run(&engine, chunks: [clientFrame(0x1, [0xFF, 0xFF, 0xFF], rsv: 0b100)])
        #expect(transcript.closeCodeSent == 1002)
    }

    /// Our inflater failing is not the peer's protocol error: 1011, as RFC 6455 §7.4.1 has it.
    @Test func anInflaterFailureOfOursIs1011NotAProtocolError() {
        let violation = WebSocketEngine.violation(for: DeflateFailure.compressorFailure, limit: 1 << 20)
        #expect(violation == .inflaterFailed)
        #expect(violation.closeCode == .internalError)
        #expect(WebSocketEngine.violation(for: DeflateFailure.corruptData, limit: 1 << 20).closeCode == .protocolError)
    }
}
