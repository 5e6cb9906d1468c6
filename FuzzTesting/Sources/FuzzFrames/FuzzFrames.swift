import NIOCore
@testable import SwitchboardWebSocket

// Feeds arbitrary bytes to a server engine and to a client engine, whole and in chunks, and checks what
// must hold whatever a peer sends (DESIGN "Receiving never throws"; STYLE rule 13):
// - `receive` never traps, and after `.needMoreBytes` the input is fully consumed;
// - the number of actions is bounded by the input (no loop without progress);
// - delivered text is valid UTF-8, close reasons included;
// - memory stays bounded: delivered messages within the message limit, the engine's buffers and the
//   bytes it writes within a constant factor of the limits and of the input;
// - the same bytes whole and chunked give the same actions and the same output (differential check);
// - what the engine writes in answer (pongs, close frames, and a message sent afterwards, compressed
//   when deflate is on) is read by a fresh peer engine without a protocol violation.
//
// Input layout: byte 0 picks the configuration, byte 1 seeds the chunking, the rest is the stream.

/// A deterministic masking-key source (the engine never draws randomness itself).
struct FuzzKeySource: MaskingKeySource {
    var state: UInt32
    mutating func nextMaskingKey() -> MaskingKey {
        state = state &* 1_103_515_245 &+ 12345
        return MaskingKey(randomBits: state)
    }
}

struct Configuration {
    var limits: WebSocketLimits
    var deflate: PerMessageDeflateParameters?

    init(_ selector: UInt8) {
        // Small limits so that the fuzzer reaches them with inputs of a few KiB (decompression bombs
        // included); one roomy setting so that whole messages go through.
        switch selector & 0b11 {
        case 0: limits = WebSocketLimits(maximumFrameSize: 125, maximumMessageSize: 256)
        case 1: limits = WebSocketLimits(maximumFrameSize: 1024, maximumMessageSize: 1024)
        case 2: limits = WebSocketLimits(maximumFrameSize: 64, maximumMessageSize: 4096)
        default: limits = WebSocketLimits(maximumFrameSize: 1 << 16, maximumMessageSize: 1 << 16)
        }
        if selector & 0b100 != 0 {
            let windowBits = 8 + Int((selector >> 5) & 0b111)  // 8...15
            deflate = PerMessageDeflateParameters(
                serverNoContextTakeover: selector & 0b1000 != 0, clientNoContextTakeover: selector & 0b1_0000 != 0,
                serverMaxWindowBits: windowBits, clientMaxWindowBits: 23 - windowBits)
        }
    }

    func engine(_ role: WebSocketRole) -> WebSocketEngine {
        WebSocketEngine(role: role, limits: limits, deflate: deflate,
                        deflateConfiguration: PerMessageDeflateConfiguration(compressionThreshold: 16),
                        maskingKeySource: role == .client ? FuzzKeySource(state: 0xC0FF_EE00) : nil)
    }
}

/// Everything an engine did with one feeding of the stream.
struct Transcript: Equatable {
    var actions: [WebSocketAction] = []
    var output: [UInt8] = []
    var endOfStream: WebSocketEvent?
}

/// The chunk sizes for a stream of `count` bytes, derived from the seed byte.
func chunkSizes(count: Int, seed: UInt8) -> [Int] {
    var sizes: [Int] = []
    var remaining = count
    var state = UInt32(seed) | 0x100
    func next() -> Int {
        state = state &* 1_664_525 &+ 1_013_904_223
        return Int(state >> 16)
    }
    while remaining > 0 {
        let size: Int
        switch seed & 0b11 {
        case 0: size = 1                                   // byte by byte
        case 1: size = 1 + next() % 7                      // tiny pieces: headers split everywhere
        case 2: size = 1 + next() % 200                    // medium pieces
        default: size = Int(seed >> 2) + 1                 // a fixed size, 1...64
        }
        sizes.append(min(size, remaining))
        remaining -= sizes.last!
    }
    return sizes
}

/// Upper bound on the bytes the engine may hold or write for this configuration and input.
func memoryBound(_ configuration: Configuration, inputCount: Int) -> Int {
    let limit = max(configuration.limits.maximumFrameSize, configuration.limits.maximumMessageSize)
    // The decompressor may overshoot the message limit by its metering slack (≈ 41.3 KiB) and
    // ByteBuffer rounds capacities up to powers of two.
    return 4 * (limit + 64 * 1024) + 4 * inputCount
}

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("Invariant broken: \(message())") }
}

func checkEvent(_ event: WebSocketEvent, _ configuration: Configuration) {
    switch event {
    case .text(let payload):
        check(String(validating: payload.readableBytesView, as: UTF8.self) != nil, "text message is not valid UTF-8")
        check(payload.readableBytes <= configuration.limits.maximumMessageSize, "text message over the limit")
    case .binary(let payload):
        check(payload.readableBytes <= configuration.limits.maximumMessageSize, "binary message over the limit")
    case .ping(let payload), .pong(let payload):
        check(payload.readableBytes <= 125, "control payload over 125 bytes")
    case .close(_, let reason):
        check(reason.utf8.count <= 123, "close reason over 123 bytes")
    case .protocolViolation(let code, _):
        check(code.isSendable, "violation with a code that may not be sent")
    }
}

/// Feeds `stream` to `engine` in pieces of `sizes`, running each to `.needMoreBytes`, then ends the stream.
func feed(_ engine: inout WebSocketEngine, _ stream: [UInt8], sizes: [Int], _ configuration: Configuration,
          endStream: Bool = true) -> Transcript {
    var transcript = Transcript()
    var output = ByteBuffer()
    var offset = 0
    let bound = memoryBound(configuration, inputCount: stream.count)
    for size in sizes {
        var input = ByteBuffer(bytes: stream[offset..<(offset + size)])
        offset += size
        // Each frame is at least 2 bytes and earns at most two actions (an event and an owed action),
        // plus the final `.needMoreBytes`, plus an owed action carried over from the previous read.
        let maximumActions = 2 * size + 4
        var actions = 0
        while true {
            let action = engine.receive(&input, output: &output)
            actions += 1
            check(actions <= maximumActions, "more than \(maximumActions) actions for a read of \(size) bytes")
            if case .deliver(let event) = action { checkEvent(event, configuration) }
            if action == .needMoreBytes { break }
            transcript.actions.append(action)
        }
        check(input.readableBytes == 0, "needMoreBytes left \(input.readableBytes) bytes unread")
        check(engine.partialFrame.readableBytes <= 139, "partial frame holds \(engine.partialFrame.readableBytes) bytes")
        check(engine.message.capacity <= bound, "message buffer capacity \(engine.message.capacity) over \(bound)")
        check(engine.compressedChunk.capacity <= bound, "compressed chunk capacity \(engine.compressedChunk.capacity) over \(bound)")
        check(output.readableBytes <= 3 * offset + 16, "wrote \(output.readableBytes) bytes for \(offset) read")
    }
    check(offset == stream.count, "chunk sizes do not cover the stream")
    transcript.output = Array(output.readableBytesView)
    if endStream {
        transcript.endOfStream = engine.receivedEndOfStream()
        check(engine.isClosed, "engine not closed after end of stream")
        var rest = ByteBuffer(bytes: [0x81, 0x00])
        check(engine.receive(&rest, output: &output) == .needMoreBytes && rest.readableBytes == 0,
              "a closed engine must swallow further input")
    }
    return transcript
}

/// What `engine` writes after the stream (a message and a ping while it is still open) must be readable by
/// a fresh peer engine with the same agreement, and the message must arrive intact.
func checkPeerReads(_ engine: inout WebSocketEngine, written: [UInt8], stream: [UInt8], _ configuration: Configuration) {
    var output = ByteBuffer(bytes: written)
    var sentMessage: [UInt8]? = nil
    if engine.isOpen {
        let message = Array(stream.prefix(configuration.limits.maximumMessageSize))
        do {
            try engine.send(.binary, payload: ByteBuffer(bytes: message), output: &output)
            try engine.ping(ByteBuffer(bytes: stream.prefix(125)), output: &output)
        } catch {
            fatalError("Invariant broken: sending on an open engine threw \(error)")
        }
        sentMessage = message
    }
    // The peer has the same agreement and room for whatever we send in one frame.
    var peerConfiguration = configuration
    peerConfiguration.limits = WebSocketLimits(maximumFrameSize: 1 << 20, maximumMessageSize: 1 << 20)
    var peer = peerConfiguration.engine(engine.role == .server ? .client : .server)
    var input = output
    var scratch = ByteBuffer()
    var lastBinary: [UInt8]? = nil
    var actions = 0
    while true {
        let action = peer.receive(&input, output: &scratch)
        actions += 1
        check(actions <= 2 * output.readableBytes + 4, "peer loops on our own output")
        switch action {
        case .needMoreBytes:
            check(input.readableBytes == 0, "peer left our output unread")
            if let sentMessage {
                check(lastBinary == sentMessage, "the message we sent did not arrive intact")
            }
            return
        case .deliver(.protocolViolation(let code, let reason)):
            fatalError("Invariant broken: our own output is a protocol violation for the peer: \(code) \(reason)")
        case .deliver(.binary(let payload)):
            lastBinary = Array(payload.readableBytesView)
        default:
            break
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count >= 2 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let configuration = Configuration(bytes[0])
    let stream = Array(bytes[2...])
    let chunked = chunkSizes(count: stream.count, seed: bytes[1])
    for role in [WebSocketRole.server, .client] {
        var whole = configuration.engine(role)
        var wholeTranscript = feed(&whole, stream, sizes: stream.isEmpty ? [] : [stream.count], configuration,
                                   endStream: false)
        checkPeerReads(&whole, written: wholeTranscript.output, stream: stream, configuration)
        wholeTranscript.endOfStream = whole.receivedEndOfStream()

        var pieces = configuration.engine(role)
        let piecesTranscript = feed(&pieces, stream, sizes: chunked, configuration)
        check(wholeTranscript == piecesTranscript,
              "\(role): whole and chunked feedings differ:\n\(wholeTranscript)\nvs\n\(piecesTranscript)")
    }
    return 0
}
