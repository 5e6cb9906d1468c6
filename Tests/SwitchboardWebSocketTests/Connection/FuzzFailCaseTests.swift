import Foundation
import NIOCore
import Testing
@testable import SwitchboardWebSocket

/// Replays every input the fuzzers found (FuzzTesting/FailCases/, STYLE rule 14) the way the fuzz target
/// does, so each bug stays fixed without the fuzzing toolchain. The input layouts are the targets' own
/// (see FuzzTesting/Sources); a new fail case is picked up by dropping its file in the folder.
@Suite struct FuzzFailCaseTests {
    static let failCases = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzTesting/FailCases")

    static func inputs(of target: String) -> [String] {
        let folder = failCases.appendingPathComponent(target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted()
    }

    static func bytes(_ target: String, _ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: failCases.appendingPathComponent(target).appendingPathComponent(name)))
    }

    /// FuzzFrames' configuration byte: bits 0-1 the limits, bit 2 permessage-deflate, bits 3-4
    /// no_context_takeover (server, client), bits 5-7 the server's window bits - 8 (the client's is 23 - that).
    static func engine(_ role: WebSocketRole, configuration selector: UInt8) -> WebSocketEngine {
        let limits: WebSocketLimits
        switch selector & 0b11 {
        case 0: limits = WebSocketLimits(maximumFrameSize: 125, maximumMessageSize: 256)
        case 1: limits = WebSocketLimits(maximumFrameSize: 1024, maximumMessageSize: 1024)
        case 2: limits = WebSocketLimits(maximumFrameSize: 64, maximumMessageSize: 4096)
        default: limits = WebSocketLimits(maximumFrameSize: 1 << 16, maximumMessageSize: 1 << 16)
        }
        var deflate: PerMessageDeflateParameters? = nil
        if selector & 0b100 != 0 {
            let windowBits = 8 + Int((selector >> 5) & 0b111)
            deflate = PerMessageDeflateParameters(
                serverNoContextTakeover: selector & 0b1000 != 0, clientNoContextTakeover: selector & 0b1_0000 != 0,
                serverMaxWindowBits: windowBits, clientMaxWindowBits: 23 - windowBits)
        }
        return WebSocketEngine(role: role, limits: limits, deflate: deflate,
                               deflateConfiguration: PerMessageDeflateConfiguration(compressionThreshold: 16),
                               maskingKeySource: role == .client ? CountingKeySource() : nil)
    }

    /// FuzzFrames: both roles, whole, byte by byte and in random splits, give the same actions and output.
    @Test(arguments: inputs(of: "FuzzFrames"))
    func framesFailCase(_ name: String) throws {
        let input = try Self.bytes("FuzzFrames", name)
        try #require(input.count >= 2)
        let stream = Array(input[2...])
        for role in [WebSocketRole.server, .client] {
            var reference: Transcript? = nil
            for chunks in splits(of: stream) {
                var engine = Self.engine(role, configuration: input[0])
                var transcript = run(&engine, chunks: chunks)
                transcript.actions = significant(transcript.actions)
                for case .deliver(.text(let payload)) in transcript.actions {
                    #expect(String(validating: payload.readableBytesView, as: UTF8.self) != nil)
                }
                if let reference {
                    #expect(transcript == reference, "\(name), \(role): the events depend on how the bytes were split")
                } else {
                    reference = transcript
                }
            }
        }
    }

    /// A compressed text frame whose inflated bytes turn invalid UTF-8 before its compressed bytes turn
    /// corrupt: 1007 whatever the split (it was 1002 when the frame came in one read, 1007 in pieces).
    @Test func invalidUTF8BeforeCorruptDataIs1007WhateverTheSplit() throws {
        let input = try Self.bytes("FuzzFrames", "deflate-corrupt-vs-invalid-utf8-split-dependent")
        for chunks in splits(of: Array(input[2...])) {
            var engine = Self.engine(.server, configuration: input[0])
            let transcript = run(&engine, chunks: chunks)
            #expect(transcript.events == [.protocolViolation(.invalidPayloadData, reason: ProtocolViolation.invalidUTF8.reason)])
        }
    }

    /// A compressed message that refers further back than the client's 8-bit window: inflated with the
    /// full window, the same way whole and in pieces (it was accepted whole and refused in small pieces).
    @Test func windowViolationDoesNotDependOnTheSplit() throws {
        let input = try Self.bytes("FuzzFrames", "deflate-window-violation-split-dependent")
        for chunks in splits(of: Array(input[2...])) {
            var engine = Self.engine(.server, configuration: input[0])
            let transcript = run(&engine, chunks: chunks)
            // The frame is cut short in the input: the message is still being inflated.
            #expect(transcript.events == [])
            #expect(engine.message.readableBytes > 40_000)
        }
    }
}
