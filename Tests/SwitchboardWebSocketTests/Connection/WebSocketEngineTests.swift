import NIOCore
import Testing
@testable import SwitchboardWebSocket

@Suite struct WebSocketEngineReceiveTests {
    func server(_ limits: WebSocketLimits = .applicationDefault) -> WebSocketEngine {
        WebSocketEngine(role: .server, limits: limits)
    }

    /// RFC 6455 §5.7 examples, each fed whole, byte by byte and in random splits.
    @Test func rfcExamplesAsAClient() {
        let vectors: [([UInt8], WebSocketEvent)] = [
            // A single-frame unmasked text message.
            ([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], .text(ByteBuffer(string: "Hello"))),
            // A fragmented unmasked text message.
            ([0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F], .text(ByteBuffer(string: "Hello"))),
            // Unmasked ping "Hello".
            ([0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], .ping(ByteBuffer(string: "Hello"))),
            // 256 bytes binary in a single unmasked frame.
            ([0x82, 0x7E, 0x01, 0x00] + [UInt8](repeating: 0xAB, count: 256), .binary(ByteBuffer(bytes: [UInt8](repeating: 0xAB, count: 256)))),
            // 64 KiB binary in a single unmasked frame.
            ([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0] + [UInt8](repeating: 0x5A, count: 65536), .binary(ByteBuffer(bytes: [UInt8](repeating: 0x5A, count: 65536)))),
        ]
        for (bytes, expected) in vectors {
            for chunks in splits(of: bytes, seeds: 1...3) where bytes.count < 1000 || chunks.count < 1000 {
                var engine = WebSocketEngine(role: .client, maskingKeySource: CountingKeySource())
                let transcript = run(&engine, chunks: chunks)
                #expect(transcript.events == [expected])
            }
        }
    }

    /// RFC 6455 §5.7: a single-frame masked text message "Hello" as a server receives it.
    @Test func rfcMaskedHelloAsAServer() {
        let bytes: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        for chunks in splits(of: bytes) {
            var engine = server()
            #expect(run(&engine, chunks: chunks).events == [.text(ByteBuffer(string: "Hello"))])
        }
    }

    /// An idle connection holds no buffer: not after a read that ends on a frame boundary, and not after
    /// a frame that straddled reads, once the engine is told the batch is over.
    @Test func anIdleEngineHoldsNoBuffers() {
        let bytes: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        for chunks in [[bytes], [Array(bytes[..<1]), Array(bytes[1...])], [Array(bytes[..<7]), Array(bytes[7...])]] {
            var engine = server()
            #expect(run(&engine, chunks: chunks).events == [.text(ByteBuffer(string: "Hello"))])
            var nothing = ByteBuffer()
            var output = ByteBuffer()
            #expect(engine.receive(&nothing, output: &output) == .needMoreBytes)
            engine.releaseIdleBuffers()
            #expect(engine.partialFrame.capacity == 0, "split \(chunks.map(\.count))")
            #expect(engine.message.capacity == 0, "split \(chunks.map(\.count))")
        }
    }

    @Test func pingIsAnsweredWithTheSamePayload() {
        var engine = server()
        let transcript = run(&engine, chunks: [clientFrame(0x9, Array("are you there".utf8))])
        #expect(transcript.events == [.ping(ByteBuffer(string: "are you there"))])
        #expect(transcript.output == frameBytes(0xA, Array("are you there".utf8)))
    }

    /// A fragmented message with control frames between its fragments (RFC 6455 §5.4), in every split.
    @Test func interleavedControlFramesInEverySplit() {
        let text = "κόσμε — fragments ✓"
        let utf8 = Array(text.utf8)
        let bytes = clientFrame(0x1, Array(utf8[0..<5]), fin: false) + clientFrame(0x9, [1, 2])
            + clientFrame(0x0, Array(utf8[5..<11]), fin: false) + clientFrame(0xA, [])
            + clientFrame(0x0, Array(utf8[11...])) + clientFrame(0x2, [0, 1, 2, 3])
        var reference: [WebSocketAction]? = nil
        for chunks in splits(of: bytes, seeds: 1...20) {
            var engine = server()
            let transcript = run(&engine, chunks: chunks)
            #expect(transcript.events == [.ping(ByteBuffer(bytes: [1, 2])), .pong(ByteBuffer()),
                                          .text(ByteBuffer(string: text)), .binary(ByteBuffer(bytes: [0, 1, 2, 3]))])
            if let reference { #expect(significant(transcript.actions) == reference) } else { reference = significant(transcript.actions) }
        }
    }

    @Test func clientEngineAndServerEngineTalkInMemory() throws {
        var client = WebSocketEngine(role: .client, maskingKeySource: CountingKeySource())
        var server = server()
        var wire = ByteBuffer()
        let messages = ["", "a", String(repeating: "x", count: 125), String(repeating: "y", count: 126),
                        String(repeating: "z", count: 65535), String(repeating: "é", count: 40000)]
        for message in messages { try client.send(.text, payload: ByteBuffer(string: message), output: &wire) }
        try client.send(.binary, payload: ByteBuffer(bytes: [0xFF, 0x00]), output: &wire)
        let transcript = run(&server, chunks: splits(of: Array(wire.readableBytesView), seeds: 1...1).last!)
        #expect(transcript.events == messages.map { .text(ByteBuffer(string: $0)) } + [.binary(ByteBuffer(bytes: [0xFF, 0x00]))])
    }

    // MARK: Closing

    @Test func peerCloseIsEchoedAndTheServerClosesTransport() {
        var engine = server()
        let transcript = run(&engine, chunks: [clientFrame(0x8, [0x03, 0xE8] + Array("bye".utf8))])
        #expect(transcript.actions == [.deliver(.close(.normalClosure, reason: "bye")), .closeTransport, .needMoreBytes])
        #expect(transcript.closeCodeSent == 1000)
        #expect(engine.isClosed)
    }

    @Test func emptyCloseIsAnsweredWith1000() {
        var engine = server()
        let transcript = run(&engine, chunks: [clientFrame(0x8, [])])
        #expect(transcript.events == [.close(.noStatusReceived, reason: "")])
        #expect(transcript.closeCodeSent == 1000)
    }

    @Test func locallyInitiatedCloseWaitsForThePeer() throws {
        var engine = server()
        var output = ByteBuffer()
        #expect(try engine.close(code: .goingAway, reason: "restart", output: &output) == .startCloseTimer)
        #expect(throws: WebSocketError.notOpen) { try engine.send(.text, payload: ByteBuffer(string: "late"), output: &output) }
        // Data the peer sent before seeing our close is still delivered; then its close ends it.
        let transcript = run(&engine, chunks: [clientFrame(0x1, Array("in flight".utf8)) + clientFrame(0x8, [0x03, 0xE9])])
        #expect(transcript.events == [.text(ByteBuffer(string: "in flight")), .close(.goingAway, reason: "")])
        #expect(transcript.actions.contains(.closeTransport))
    }

    @Test func endOfStreamWithoutCloseIs1006() {
        var engine = server()
        #expect(engine.receivedEndOfStream() == .close(.abnormalClosure, reason: "connection ended without a close frame"))
        #expect(engine.receivedEndOfStream() == nil)
    }

    @Test func unsendableCloseCodesAreRefused() {
        var engine = server()
        var output = ByteBuffer()
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            #expect(throws: WebSocketError.unsendableCloseCode(CloseCode(code))) { try engine.close(code: CloseCode(code), output: &output) }
        }
        #expect(output.readableBytes == 0)
    }
}

@Suite struct WebSocketEngineViolationTests {
    /// Each violation, then a valid close from the peer: the engine sends the right code once, reports the
    /// violation, skips what follows until the peer's close, and closes the transport.
    @Test(arguments: [
        ("reserved opcode 3", clientFrame(0x3, []), UInt16(1002)),
        ("reserved opcode 0xB", clientFrame(0xB, [1, 2]), 1002),
        ("RSV1 without extension", clientFrame(0x1, [0x41], rsv: 0b100), 1002),
        ("RSV2", clientFrame(0x1, [0x41], rsv: 0b010), 1002),
        ("RSV3 on ping", clientFrame(0x9, [], rsv: 0b001), 1002),
        ("unmasked client frame", frameBytes(0x1, [0x41]), 1002),
        ("fragmented ping", clientFrame(0x9, [1], fin: false), 1002),
        ("ping of 126 bytes", clientFrame(0x9, [UInt8](repeating: 0, count: 126)), 1002),
        ("continuation first", clientFrame(0x0, [0x41]), 1002),
        ("text inside fragmented text", clientFrame(0x1, [0x41], fin: false) + clientFrame(0x1, [0x42]), 1002),
        ("invalid UTF-8", clientFrame(0x1, [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80]), 1007),
        ("truncated code point", clientFrame(0x1, [0x41, 0xE2, 0x82]), 1007),
        ("bad UTF-8 in first fragment", clientFrame(0x1, [0xC0, 0x80], fin: false), 1007),
        ("close with one byte", clientFrame(0x8, [0x03]), 1002),
        ("close code 1005", clientFrame(0x8, [0x03, 0xED]), 1002),
        ("close code 999", clientFrame(0x8, [0x03, 0xE7]), 1002),
        ("close code 5000", clientFrame(0x8, [0x13, 0x88]), 1002),
        ("close reason not UTF-8", clientFrame(0x8, [0x03, 0xE8, 0xFF]), 1007),
        ("non-minimal 16-bit length", [0x81, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 1, 2, 3, 4, 5], 1002),
        ("frame over the limit", clientFrame(0x2, [UInt8](repeating: 1, count: 2000)), 1009),
        ("message over the limit", clientFrame(0x2, [UInt8](repeating: 1, count: 600), fin: false) + clientFrame(0x0, [UInt8](repeating: 1, count: 600)), 1009),
    ] as [(String, [UInt8], UInt16)])
    func violationEarnsItsCloseCode(name: String, bytes: [UInt8], code: UInt16) {
        let limits = WebSocketLimits(maximumFrameSize: 1024, maximumMessageSize: 1024)
        let trailer = clientFrame(0x1, Array("ignored".utf8)) + clientFrame(0x8, [0x03, 0xE8])
        var reference: [WebSocketAction]? = nil
        for chunks in splits(of: bytes + trailer, seeds: 1...4) {
            var engine = WebSocketEngine(role: .server, limits: limits)
            let transcript = run(&engine, chunks: chunks)
            #expect(transcript.closeCodeSent == code, "\(name)")
            let violations = transcript.events.filter { if case .protocolViolation = $0 { return true } else { return false } }
            #expect(violations.count == 1, "\(name): \(transcript.events)")
            #expect(!transcript.events.contains(.text(ByteBuffer(string: "ignored"))), "\(name)")
            #expect(transcript.actions.contains(.closeTransport) || code == 1002 && name.hasPrefix("close"), "\(name)")
            if let reference { #expect(significant(transcript.actions) == reference, "\(name)") } else { reference = significant(transcript.actions) }
        }
    }

    @Test func maskedFrameFromServerFailsTheClient() {
        var engine = WebSocketEngine(role: .client, maskingKeySource: CountingKeySource())
        let transcript = run(&engine, chunks: [clientFrame(0x1, [0x41])])
        #expect(transcript.events == [.protocolViolation(.protocolError, reason: "masked frame from a server")])
    }

    @Test func hugeLengthWithTopBitLosesFramingAndStopsReading() {
        var engine = WebSocketEngine(role: .server)
        let transcript = run(&engine, chunks: [[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4], clientFrame(0x8, [0x03, 0xE8])])
        #expect(transcript.closeCodeSent == 1002)
        #expect(transcript.actions.contains(.startCloseTimer))
        var output = ByteBuffer()
        #expect(engine.closeTimerFired() == .closeTransport)
        _ = output
    }
}

@Suite struct WebSocketEngineSendHeaderTests {
    @Test func serverPayloadsGoUnchangedUnlessCompressed() throws {
        let payload = ByteBuffer(repeating: 0x41, count: 70_000)
        var output = ByteBuffer()
        var server = WebSocketEngine(role: .server)
        #expect(try server.sendHeader(.binary, payload: payload, output: &output))
        #expect(Array(output.readableBytesView) == [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70])

        // A client must mask, and a compressing server must deflate: neither can skip the payload.
        var client = WebSocketEngine(role: .client, maskingKeySource: CountingKeySource())
        var deflating = WebSocketEngine(role: .server, deflate: PerMessageDeflateParameters())
        var untouched = ByteBuffer()
        #expect(try !client.sendHeader(.binary, payload: payload, output: &untouched))
        #expect(try !deflating.sendHeader(.binary, payload: payload, output: &untouched))
        #expect(untouched.readableBytes == 0)
        // Below the compression threshold the deflating server sends as is.
        #expect(try deflating.sendHeader(.text, payload: ByteBuffer(string: "short"), output: &untouched))

        var closed = WebSocketEngine(role: .server)
        try closed.close(output: &untouched)
        #expect(throws: WebSocketError.notOpen) { try closed.sendHeader(.text, payload: payload, output: &untouched) }
    }

    /// The question a broadcast asks before writing a frame it encoded once: the same answers as
    /// `sendHeader`, without writing anything.
    @Test func sendsUnchangedAnswersLikeSendHeader() throws {
        let server = WebSocketEngine(role: .server)
        let client = WebSocketEngine(role: .client, maskingKeySource: CountingKeySource())
        let deflating = WebSocketEngine(role: .server, deflate: PerMessageDeflateParameters(),
                                        deflateConfiguration: PerMessageDeflateConfiguration(compressionThreshold: 128))
        #expect(try server.sendsUnchanged(payloadLength: 70_000))
        #expect(try server.sendsUnchanged(payloadLength: 0))
        #expect(try !client.sendsUnchanged(payloadLength: 10))
        #expect(try !deflating.sendsUnchanged(payloadLength: 128))
        #expect(try deflating.sendsUnchanged(payloadLength: 127))

        var closed = WebSocketEngine(role: .server)
        var output = ByteBuffer()
        try closed.close(output: &output)
        #expect(throws: WebSocketError.notOpen) { try closed.sendsUnchanged(payloadLength: 1) }
    }
}

@Suite struct WebSocketEngineRoundTripTests {
    /// Encoder → parser round trip with the stream cut in two at every byte boundary: lengths of every
    /// encoding (7/16/64-bit), text and binary, fragmented and whole, with control frames between.
    @Test func everySplitPointGivesTheSameEvents() throws {
        var client = WebSocketEngine(role: .client, maskingKeySource: CountingKeySource())
        var wire = ByteBuffer()
        let payloads = [0, 1, 125, 126, 127, 65535, 65536].map { size in ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7) }) }
        var frameStarts: [Int] = []
        for payload in payloads {
            frameStarts.append(wire.writerIndex)
            try client.send(.binary, payload: payload, output: &wire)
        }
        try client.ping(ByteBuffer(string: "p"), output: &wire)
        try client.send(.text, payload: ByteBuffer(string: "κόσμε"), output: &wire)
        // A fragmented text message, its code points cut across fragments, with a pong in the middle.
        let utf8 = Array("𝄞 fragments ✓".utf8)
        wire.writeBytes(frameBytes(0x1, Array(utf8[0..<2]), fin: false, key: (1, 2, 3, 4)))
        try client.pong(ByteBuffer(), output: &wire)
        wire.writeBytes(frameBytes(0x0, Array(utf8[2...]), key: (5, 6, 7, 8)))
        let bytes = Array(wire.readableBytesView)

        let expected: [WebSocketEvent] = payloads.map { .binary($0) }
            + [.ping(ByteBuffer(string: "p")), .text(ByteBuffer(string: "κόσμε")), .pong(ByteBuffer()),
               .text(ByteBuffer(string: "𝄞 fragments ✓"))]
        // Every boundary within 16 bytes of a frame start and through the small frames; every 97th inside the
        // two 64 KiB payloads (cutting them at every offset modulo 4) keeps the test fast.
        let nearFrameStart = { (split: Int) in frameStarts.contains { abs($0 - split) <= 16 } }
        let bigStart = frameStarts[5]
        for split in 0...bytes.count where split < bigStart || split % 97 == 0 || split > bytes.count - 200 || nearFrameStart(split) {
            var server = WebSocketEngine(role: .server, limits: .echoServer)
            let transcript = run(&server, chunks: [Array(bytes[..<split]), Array(bytes[split...])])
            #expect(transcript.events == expected, "split at \(split)")
            if transcript.events != expected { break }
        }
    }
}
