import NIOCore
import Testing
@testable import SwitchboardWebSocket

/// Which frame a server connection can share with others, and the shared compressed frame itself: one
/// message compressed alone, which every connection that agreed `server_no_context_takeover` decodes.
@Suite struct SharedFrameTests {
    let configuration = PerMessageDeflateConfiguration(compressionThreshold: 64)

    func server(_ parameters: PerMessageDeflateParameters?) -> WebSocketEngine {
        WebSocketEngine(role: .server, deflate: parameters, deflateConfiguration: self.configuration)
    }

    @Test func withoutDeflateEveryMessageIsThePlainFrame() throws {
        let engine = self.server(nil)
        #expect(try engine.sharedFrameUse(payloadLength: 0) == .plain)
        #expect(try engine.sharedFrameUse(payloadLength: 1 << 20) == .plain)
    }

    @Test func belowTheThresholdEveryConnectionSharesThePlainFrame() throws {
        for serverNoContextTakeover in [false, true] {
            let engine = self.server(PerMessageDeflateParameters(serverNoContextTakeover: serverNoContextTakeover))
            #expect(try engine.sharedFrameUse(payloadLength: 63) == .plain)
        }
    }

    @Test func aConnectionThatKeepsItsContextCompressesAlone() throws {
        let engine = self.server(PerMessageDeflateParameters(serverNoContextTakeover: false))
        #expect(try engine.sharedFrameUse(payloadLength: 64) == .unshared)
    }

    @Test func withoutContextTakeoverTheCompressedFrameIsShared() throws {
        let engine = self.server(PerMessageDeflateParameters(serverNoContextTakeover: true))
        #expect(try engine.sharedFrameUse(payloadLength: 64) == .compressed)
        #expect(try engine.sharedFrameUse(payloadLength: 1 << 20) == .compressed)
    }

    /// A message compressed alone refers back less than its own length: a 512-byte window holds any
    /// message up to 512 bytes, whatever window the shared compressor used.
    @Test func aSmallerServerWindowSharesOnlyMessagesThatFitIt() throws {
        let engine = self.server(PerMessageDeflateParameters(serverNoContextTakeover: true, serverMaxWindowBits: 9))
        #expect(try engine.sharedFrameUse(payloadLength: 512) == .compressed)
        #expect(try engine.sharedFrameUse(payloadLength: 513) == .unshared)
    }

    @Test func aClientMasksEveryFrameAndSharesNone() throws {
        let engine = WebSocketEngine(role: .client, maskingKeySource: CountingKeySource())
        #expect(try engine.sharedFrameUse(payloadLength: 10) == .unshared)
    }

    @Test func aClosedConnectionSharesNothing() throws {
        var engine = self.server(nil)
        var output = ByteBuffer()
        _ = try engine.close(code: .normalClosure, output: &output)
        #expect(throws: WebSocketError.self) { try engine.sharedFrameUse(payloadLength: 10) }
    }

    /// The shared compressor's frames, one after another from one compressor, each decode alone through a
    /// client engine that agreed no context takeover (and one that keeps the smallest window it can).
    @Test(arguments: [15, 9])
    func sharedFramesDecodeEachAloneAtTheClient(clientWindowBits: Int) throws {
        var compressor = SharedFrameCompressor(level: 6, memoryLevel: 8)
        let messages = [String(repeating: "notification ", count: 30), "κόσμε " + String(repeating: "switchboard ", count: 20)]
        #expect(messages.allSatisfy { $0.utf8.count <= 512 })
        var frames: [[UInt8]] = []
        for message in messages {
            var frame = ByteBuffer()
            try compressor.writeFrame(.text, payload: ByteBuffer(string: message), into: &frame)
            #expect(frame.getInteger(at: 0, as: UInt8.self) == 0xC1, "FIN, RSV1, text")
            #expect(frame.readableBytes < message.utf8.count / 2)
            frames.append(Array(frame.readableBytesView))
        }
        let agreed = PerMessageDeflateParameters(serverNoContextTakeover: true, serverMaxWindowBits: clientWindowBits)
        // Each frame alone, in a fresh client: nothing depends on an earlier message.
        for (frame, message) in zip(frames, messages) {
            var client = WebSocketEngine(role: .client, deflate: agreed, maskingKeySource: CountingKeySource())
            #expect(run(&client, chunks: [frame]).events == [.text(ByteBuffer(string: message))])
        }
        // The second frame again, after the first, in one client.
        var client = WebSocketEngine(role: .client, deflate: agreed, maskingKeySource: CountingKeySource())
        #expect(run(&client, chunks: [frames[0], frames[1], frames[1]]).events == [messages[0], messages[1], messages[1]].map { .text(ByteBuffer(string: $0)) })
    }

    /// With streams released between messages, a connection that read a compressed message holds no zlib
    /// stream afterwards; by default it keeps it.
    @Test(arguments: [true, false])
    func streamsAreFreedAfterEachMessageWhenAsked(keeps: Bool) throws {
        let parameters = PerMessageDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true)
        let configuration = PerMessageDeflateConfiguration(compressionThreshold: 8, keepsStreamsBetweenMessages: keeps)
        var client = WebSocketEngine(role: .client, deflate: parameters, deflateConfiguration: configuration, maskingKeySource: CountingKeySource())
        var server = WebSocketEngine(role: .server, deflate: parameters, deflateConfiguration: configuration)
        var wire = ByteBuffer()
        try client.send(.text, payload: ByteBuffer(string: String(repeating: "subscribe ", count: 20)), output: &wire)
        #expect(client.compression?.compressor?.hasAllocatedStream == keeps)
        #expect(run(&server, chunks: [Array(wire.readableBytesView)]).events.count == 1)
        #expect(server.compression?.decompressor?.hasAllocatedStream == keeps)
    }
}
