import NIOConcurrencyHelpers
import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// permessage-deflate without context takeover on the broadcast path, over real sockets: the connections
/// that agreed it get one compressed frame, the same bytes each, made once; a connection whose window is too
/// small for a message compresses that one itself; a connection without deflate gets the plain frame.
@Suite struct SharedCompressedFrameEndToEndTests {
    static var configuration: WebSocketServerConfiguration {
        var configuration = WebSocketServerConfiguration()
        configuration.connection.deflate = PerMessageDeflateConfiguration(
            requestServerNoContextTakeover: true, requestClientNoContextTakeover: true, compressionThreshold: 64,
            keepsStreamsBetweenMessages: false)
        return configuration
    }

    @Test(arguments: TestTransport.all) func connectionsWithoutContextTakeoverShareOneCompressedFrame(transport: TestTransport) async throws {
        let subscribers = NIOLockedValueBox<[PreparedMessageEndToEndTests.Subscriber]>([])
        let handler = WebSocketServer.Handler.eventLoop { _ in PreparedMessageEndToEndTests.Subscribing(subscribers: subscribers) }
        try await withServer(transport: transport, configuration: Self.configuration, handler: handler) { server, _ in
            // As browsers offer it; bare; with the server's window limited to 512 bytes; no offer.
            let offers: [String?] = ["permessage-deflate; client_max_window_bits", "permessage-deflate",
                                     "permessage-deflate; server_max_window_bits=9", nil]
            var peers: [RawConnection] = []
            for offer in offers {
                let peer = try await RawConnection.connect(port: server.localAddress!.port!)
                let response = try await peer.upgrade(extraHeaders: offer.map { [("Sec-WebSocket-Extensions", $0)] } ?? [])
                #expect(response.status == 101)
                let agreed = response.header("Sec-WebSocket-Extensions")
                if offer == nil {
                    #expect(agreed == nil)
                } else {
                    #expect(agreed?.contains("server_no_context_takeover") == true && agreed?.contains("client_no_context_takeover") == true,
                            "\(agreed ?? "no agreement")")
                }
                peers.append(peer)
            }
            #expect(await eventually { subscribers.withLockedValue { $0.count } == offers.count })

            let small = String(repeating: "notification ", count: 30)  // 390 bytes: within a 512-byte window
            let large = String(repeating: "publication ", count: 200)  // 2,400 bytes: not
            for text in [small, large] {
                let prepared = WebSocketPreparedMessage(.text(text))
                for subscriber in subscribers.withLockedValue({ $0 }) {
                    let connection = subscriber.connection
                    connection.eventLoop.execute { try? connection.value.send(prepared) }
                }
            }
            var frames: [[RawFrame]] = []
            for peer in peers {
                var received: [RawFrame] = []
                while received.count < 2, let frame = try await peer.nextFrame() { received.append(frame) }
                frames.append(received)
                await peer.close()
            }
            try #require(frames.allSatisfy { $0.count == 2 })
            // The two ordinary offers: the very same compressed bytes, each message a fraction of its size.
            #expect(frames[0] == frames[1])
            #expect(frames[0].allSatisfy { $0.compressed && $0.payload.count < 100 })
            // The small window: the shared frame for the message that fits, its own compression for the other.
            #expect(frames[2][0] == frames[0][0])
            #expect(frames[2][1].compressed)
            // No deflate: the plain frames.
            #expect(frames[3] == [RawFrame(opcode: RawFrame.text, payload: Array(small.utf8)), RawFrame(opcode: RawFrame.text, payload: Array(large.utf8))])
            // Every compressed frame decodes alone.
            for (peerFrames, windowBits) in [(frames[0], 15), (frames[2], 9)] {
                for (frame, text) in zip(peerFrames, [small, large]) {
                    var decompressor = MessageDecompressor(noContextTakeover: true, windowBits: windowBits)
                    var compressed = ByteBuffer(bytes: frame.payload)
                    var message = ByteBuffer()
                    try decompressor.decompress(&compressed, into: &message, limit: 1 << 20)
                    try decompressor.finishMessage(into: &message, limit: 1 << 20)
                    #expect(String(buffer: message) == text)
                }
            }
        }
    }

    /// Made once: the connections that send the shared compressed frame never touch their own compressors,
    /// which (keeping their streams between messages here) would hold a zlib stream had they compressed.
    @Test(arguments: TestTransport.all) func noConnectionCompressesASharedMessageItself(transport: TestTransport) async throws {
        var configuration = Self.configuration
        configuration.connection.deflate?.keepsStreamsBetweenMessages = true
        let subscribers = NIOLockedValueBox<[PreparedMessageEndToEndTests.Subscriber]>([])
        let handler = WebSocketServer.Handler.eventLoop { _ in PreparedMessageEndToEndTests.Subscribing(subscribers: subscribers) }
        try await withServer(transport: transport, configuration: configuration, handler: handler) { server, _ in
            var peers: [RawConnection] = []
            for _ in 0..<3 {
                let peer = try await RawConnection.connect(port: server.localAddress!.port!)
                _ = try await peer.upgrade(extraHeaders: [("Sec-WebSocket-Extensions", "permessage-deflate")])
                peers.append(peer)
            }
            #expect(await eventually { subscribers.withLockedValue { $0.count } == peers.count })
            let prepared = WebSocketPreparedMessage(.text(String(repeating: "shared ", count: 100)))
            for subscriber in subscribers.withLockedValue({ $0 }) {
                let connection = subscriber.connection
                connection.eventLoop.execute { try? connection.value.send(prepared) }
            }
            for peer in peers { #expect(try await peer.nextFrame()?.compressed == true) }
            // Asked while the connections are open (a closed one lets go of its compressor altogether).
            for subscriber in subscribers.withLockedValue({ $0 }) {
                let connection = subscriber.connection
                let ownStream = try await connection.eventLoop.submit {
                    connection.value.handler.engine?.compression?.compressor?.hasAllocatedStream
                }.get()
                #expect(ownStream == false)
            }
            for peer in peers { await peer.close() }
        }
    }

    /// Replies (not prepared) above the threshold are compressed too, by the loop's compressor.
    @Test(arguments: TestTransport.all) func anOrdinarySendIsCompressedAlone(transport: TestTransport) async throws {
        try await withServer(transport: transport, configuration: Self.configuration, handler: asyncEcho) { server, _ in
            let peer = try await RawConnection.connect(port: server.localAddress!.port!)
            _ = try await peer.upgrade(extraHeaders: [("Sec-WebSocket-Extensions", "permessage-deflate")])
            let text = String(repeating: "echo ", count: 100)
            try await peer.send(RawFrame(opcode: RawFrame.text, payload: Array(text.utf8)))
            try await peer.send(RawFrame(opcode: RawFrame.text, payload: Array(text.utf8)))
            let first = try #require(try await peer.nextFrame())
            let second = try #require(try await peer.nextFrame())
            #expect(first.compressed && first.payload.count < text.utf8.count / 4)
            // Alone: the second is compressed exactly as the first, not as a reference to it.
            #expect(second == first)
            await peer.close()
        }
    }
}
