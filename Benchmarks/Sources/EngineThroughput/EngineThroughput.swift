// String(format:) and padding(toLength:withPad:startingAt:). Foundation used to arrive through swift-crypto 3;
// swift-crypto 4 (which jwt-kit 5 brings in) imports only FoundationEssentials.
import Foundation
import NIOCore
import SwitchboardWebSocket

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The engine alone: masked client frames in, validated messages out (parse + unmask + UTF-8), in GB/s
/// of wire bytes, beside memcpy of the same bytes as the reference line.
///
/// Usage: EngineThroughput [seconds-per-case]
@main
struct EngineThroughput {
    struct Case {
        var name: String
        var messageSize: Int
        var opcode: Opcode
        var content: (Int) -> UInt8
    }

    static func main() {
        let seconds = Double(CommandLine.arguments.dropFirst().first ?? "") ?? 1.0
        let ascii: (Int) -> UInt8 = { UInt8(ascii: "a") + UInt8($0 % 26) }
        // "κόσμε " repeated: two-byte sequences throughout, so the validator checks every byte.
        let greek = Array("κόσμε ".utf8)
        let multilingual: (Int) -> UInt8 = { greek[$0 % greek.count] }
        let cases = [
            Case(name: "1 KiB text, ASCII", messageSize: 1 << 10, opcode: .text, content: ascii),
            Case(name: "1 KiB text, Greek", messageSize: 1 << 10 - 4, opcode: .text, content: multilingual),
            Case(name: "1 KiB binary", messageSize: 1 << 10, opcode: .binary, content: { UInt8(truncatingIfNeeded: $0 &* 131) }),
            Case(name: "1 MiB text, ASCII", messageSize: 1 << 20, opcode: .text, content: ascii),
            Case(name: "1 MiB text, Greek", messageSize: 1 << 20 - 4, opcode: .text, content: multilingual),
            Case(name: "1 MiB binary", messageSize: 1 << 20, opcode: .binary, content: { UInt8(truncatingIfNeeded: $0 &* 131) }),
        ]
        print("case                    engine GB/s   memcpy GB/s   engine/memcpy")
        for benchmarkCase in cases {
            let wire = Self.wireBytes(for: benchmarkCase, totalBytes: 8 << 20)
            let engineRate = Self.measure(seconds: seconds, bytesPerRound: wire.readableBytes) { Self.parseAll(wire) }
            let memcpyRate = Self.measure(seconds: seconds, bytesPerRound: wire.readableBytes) { Self.copyAll(wire) }
            print(benchmarkCase.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                  + String(format: "%8.2f      %8.2f        %5.0f%%", engineRate, memcpyRate, 100 * engineRate / memcpyRate))
        }
    }

    /// Masked client frames (as a browser sends them) adding up to about `totalBytes`.
    static func wireBytes(for benchmarkCase: Case, totalBytes: Int) -> ByteBuffer {
        var payload = ByteBuffer()
        for index in 0..<benchmarkCase.messageSize { payload.writeInteger(benchmarkCase.content(index)) }
        var wire = ByteBuffer()
        let count = max(1, totalBytes / benchmarkCase.messageSize)
        for index in 0..<count {
            let key = MaskingKey(UInt8(truncatingIfNeeded: index), 0x5A, 0xC3, 0x17)
            FrameEncoder.writeFrame(FrameHeader(opcode: benchmarkCase.opcode, maskingKey: key, payloadLength: payload.readableBytes),
                                    payload: payload, into: &wire)
        }
        return wire
    }

    /// One server engine consumes every frame; each message is dropped as soon as it is delivered.
    @inline(never)
    static func parseAll(_ wire: ByteBuffer) -> Int {
        var engine = WebSocketEngine(role: .server, limits: .echoServer)
        var input = wire
        var output = ByteBuffer()
        var delivered = 0
        while true {
            switch engine.receive(&input, output: &output) {
            case .needMoreBytes: return delivered
            case .deliver(.text(let data)), .deliver(.binary(let data)): delivered &+= data.readableBytes
            case .deliver(let event): fatalError("unexpected \(event)")
            case .startCloseTimer, .closeTransport: fatalError("unexpected close")
            }
        }
    }

    /// memcpy of the same bytes into a reused destination.
    @inline(never)
    static func copyAll(_ wire: ByteBuffer) -> Int {
        wire.withUnsafeReadableBytes { source in
            _ = Self.destination.withUnsafeMutableBytes { target in
                memcpy(target.baseAddress!, source.baseAddress!, source.count)
            }
            return source.count
        }
    }

    nonisolated(unsafe) static var destination = [UInt8](repeating: 0, count: 9 << 20)

    static func measure(seconds: Double, bytesPerRound: Int, _ body: () -> Int) -> Double {
        var sink = 0
        for _ in 0..<3 { sink &+= body() }  // warm up caches and allocator
        let start = NIODeadline.now()
        var rounds = 0
        var elapsed: Double = 0
        repeat {
            sink &+= body()
            rounds += 1
            elapsed = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        } while elapsed < seconds
        if sink == 42 { print("") }  // keep the work observable
        return Double(bytesPerRound * rounds) / elapsed / 1e9
    }
}
