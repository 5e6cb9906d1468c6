import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardWebSocket

/// A deterministic masking-key source for tests (the engine itself never draws randomness).
struct CountingKeySource: MaskingKeySource {
    var next: UInt32 = 0x1234_5678
    mutating func nextMaskingKey() -> MaskingKey {
        next = next &* 1_103_515_245 &+ 12345
        return MaskingKey(randomBits: next)
    }
}

/// Builds one frame's wire bytes, masked when `key` is given.
func frameBytes(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, key: (UInt8, UInt8, UInt8, UInt8)? = nil) -> [UInt8] {
    var bytes: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode]
    let maskBit: UInt8 = key == nil ? 0 : 0x80
    if payload.count <= 125 {
        bytes.append(maskBit | UInt8(payload.count))
    } else if payload.count <= 0xFFFF {
        bytes.append(maskBit | 126)
        bytes += [UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    } else {
        bytes.append(maskBit | 127)
        bytes += (0..<8).reversed().map { UInt8(truncatingIfNeeded: payload.count >> ($0 * 8)) }
    }
    if let key {
        let k = [key.0, key.1, key.2, key.3]
        bytes += k
        bytes += payload.enumerated().map { $0.element ^ k[$0.offset % 4] }
    } else {
        bytes += payload
    }
    return bytes
}

/// A client frame as browsers send them (masked).
func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0) -> [UInt8] {
    frameBytes(opcode, payload, fin: fin, rsv: rsv, key: (0x37, 0xFA, 0x21, 0x3D))
}

/// What the engine did with a byte stream: every action, and everything it wrote.
struct Transcript: Equatable {
    var actions: [WebSocketAction] = []
    var output: [UInt8] = []

    var events: [WebSocketEvent] {
        actions.compactMap { if case .deliver(let event) = $0 { return event } else { return nil } }
    }
    var closeCodeSent: UInt16? {
        // The first close frame in an unmasked server output.
        var index = 0
        while index + 2 <= output.count {
            let opcode = output[index] & 0x0F
            var length = Int(output[index + 1] & 0x7F)
            var header = 2
            if length == 126 { length = Int(output[index + 2]) << 8 | Int(output[index + 3]); header = 4 }
            if output[index + 1] & 0x80 != 0 { header += 4 }
            if opcode == 0x8 {
                guard length >= 2 else { return 1005 }
                return UInt16(output[index + header]) << 8 | UInt16(output[index + header + 1])
            }
            index += header + length
        }
        return nil
    }
}

/// Feeds `chunks` to `engine` one read at a time, running each read to `needMoreBytes`.
func run(_ engine: inout WebSocketEngine, chunks: [[UInt8]]) -> Transcript {
    var transcript = Transcript()
    var output = ByteBuffer()
    for chunk in chunks {
        var input = ByteBuffer(bytes: chunk)
        while true {
            let action = engine.receive(&input, output: &output)
            transcript.actions.append(action)
            if action == .needMoreBytes { break }
        }
        #expect(input.readableBytes == 0, "needMoreBytes must leave the input consumed")
    }
    transcript.output = Array(output.readableBytesView)
    return transcript
}

/// The same stream fed whole, byte by byte, and in seeded random splits.
func splits(of bytes: [UInt8], seeds: ClosedRange<UInt64> = 1...8) -> [[[UInt8]]] {
    Chunking.feedings(of: bytes, seeds: seeds)
}

/// Actions without the `needMoreBytes` markers, whose number depends on how the input was split.
func significant(_ actions: [WebSocketAction]) -> [WebSocketAction] {
    actions.filter { $0 != .needMoreBytes }
}
