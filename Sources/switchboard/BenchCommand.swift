import ArgumentParser
import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// `switchboard bench URL`: an echo load generator. N connections each keep `depth` messages in flight;
/// every echo is checked, timed (the send time travels in the payload) and replaced by a new message.
/// Prints messages/s, MB/s and latency percentiles from an HDR histogram.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Echo load generator: throughput and latency percentiles against a WebSocket echo server."
    )

    @Argument(help: "ws:// URL of an echo server.")
    var url: String

    @Option(name: [.short, .customLong("connections")], help: "Connections.")
    var connections = 100

    @Option(name: [.short, .customLong("depth")], help: "Messages in flight per connection (pipelining).")
    var depth = 16

    @Option(name: [.short, .customLong("size")], help: "Message size in bytes (at least 16).")
    var size = 64

    @Option(name: [.customShort("T"), .customLong("duration")], help: "Seconds to measure.")
    var duration = 10

    @Option(name: [.short, .customLong("warmup")], help: "Seconds of warm-up before measuring.")
    var warmup = 2

    @Option(help: "Event-loop threads (default: one per available core).")
    var threads: Int?

    @Flag(help: "Send text messages instead of binary.")
    var text = false

    @Flag(help: "Offer permessage-deflate.")
    var deflate = false

    func validate() throws {
        guard self.size >= 16 else { throw ValidationError("--size must be at least 16 (the payload carries a timestamp)") }
        guard self.connections > 0, self.depth > 0, self.duration > 0 else { throw ValidationError("counts must be positive") }
    }

    func run() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: self.threads ?? System.coreCount)
        var configuration = WebSocketClientConfiguration()
        configuration.connection.limits = .echoServer
        configuration.connection.deflate = self.deflate ? PerMessageDeflateConfiguration() : nil
        configuration.connection.heartbeat = nil
        let recorder = BenchRecorder()
        let workload = BenchWorkload(size: self.size, depth: self.depth, isText: self.text)
        var handlers: [BenchConnectionHandler] = []
        var opened: [EventLoopFuture<Void>] = []
        for _ in 0..<self.connections {
            let eventLoop = group.next()
            let handler = BenchConnectionHandler(workload: workload, recorder: recorder)
            handlers.append(handler)
            opened.append(WebSocketClient.connect(to: self.url, configuration: configuration, eventLoop: eventLoop, handler: handler))
        }
        for future in opened { try await future.get() }
        print("connected \(self.connections) connections; warming up \(self.warmup) s")
        try await Task.sleep(for: .seconds(self.warmup))
        recorder.startMeasuring()
        try await Task.sleep(for: .seconds(self.duration))
        let result = recorder.stopMeasuring()
        let seconds = Double(result.elapsedNanoseconds) / 1e9
        let rate = Double(result.messages) / seconds
        let megabytes = rate * Double(self.size) / 1e6
        let h = result.histogram
        func micro(_ p: Double) -> String { String(format: "%.0f", Double(h.valueAtPercentile(p)) / 1000) }
        print(String(format: "%.0f msgs/s  %.1f MB/s  (%d connections, depth %d, %d B %@, %.1f s)",
                     rate, megabytes, self.connections, self.depth, self.size, self.text ? "text" : "binary", seconds))
        print("latency µs: p50 \(micro(50))  p90 \(micro(90))  p99 \(micro(99))  p99.9 \(micro(99.9))  max \(micro(100))")
        if result.errors > 0 { print("errors: \(result.errors) (corrupt or unexpected echoes)") }
        for handler in handlers { handler.stop() }
        try await group.shutdownGracefully()
        if result.errors > 0 { throw ExitCode(1) }
    }
}

struct BenchWorkload: Sendable {
    let size: Int
    let depth: Int
    let isText: Bool
}

/// Collects counts and latencies from every event loop; each loop merges its own histogram in batches.
final class BenchRecorder: Sendable {
    struct Result {
        var messages: Int
        var errors: Int
        var elapsedNanoseconds: UInt64
        var histogram: Histogram<UInt64>
    }

    private struct State {
        var measuring = false
        var start: UInt64 = 0
        var messages = 0
        var errors = 0
        var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    }

    private let state = NIOLockedValueBox(State())
    private let measuringFlag = NIOLockedValueBox(false)

    var isMeasuring: Bool { self.measuringFlag.withLockedValue { $0 } }

    func startMeasuring() {
        self.state.withLockedValue { $0.measuring = true; $0.start = MonotonicClock.nanoseconds() }
        self.measuringFlag.withLockedValue { $0 = true }
    }

    func merge(messages: Int, errors: Int, histogram: Histogram<UInt64>) {
        self.state.withLockedValue { state in
            guard state.measuring else { return }
            state.messages += messages
            state.errors += errors
            state.histogram.add(histogram)
        }
    }

    func stopMeasuring() -> Result {
        self.measuringFlag.withLockedValue { $0 = false }
        return self.state.withLockedValue { state in
            state.measuring = false
            return Result(messages: state.messages, errors: state.errors,
                          elapsedNanoseconds: MonotonicClock.nanoseconds() - state.start, histogram: state.histogram)
        }
    }
}

/// One benchmark connection: keeps `depth` messages in flight and checks every echo.
final class BenchConnectionHandler: WebSocketEventLoopHandler, @unchecked Sendable {
    private let workload: BenchWorkload
    private let recorder: BenchRecorder
    private var payload: ByteBuffer
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: .three)
    private var pendingMessages = 0
    private var pendingErrors = 0
    private var connection: WebSocketEventLoopConnection?
    private var stopped = false

    init(workload: BenchWorkload, recorder: BenchRecorder) {
        self.workload = workload
        self.recorder = recorder
        // The send time as 16 hex digits (valid text too), then a fixed pattern the echo must preserve.
        var payload = ByteBuffer()
        for index in 0..<workload.size { payload.writeInteger(UInt8(ascii: "a") + UInt8(index % 26)) }
        self.payload = payload
    }

    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
        self.connection = connection
        for _ in 0..<self.workload.depth { self.sendOne(connection) }
    }

    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
        var data = message.data
        if data.readableBytes == self.workload.size, let sent = Self.readTimestamp(data),
           data.getSlice(at: data.readerIndex + 16, length: data.readableBytes - 16) == self.payload.getSlice(at: 16, length: self.payload.readableBytes - 16) {
            let now = MonotonicClock.nanoseconds()
            self.histogram.record(now &- sent)
            self.pendingMessages += 1
        } else {
            self.pendingErrors += 1
        }
        data.moveReaderIndex(to: data.writerIndex)
        if self.pendingMessages >= 256 { self.flushStatistics() }
        if !self.stopped { self.sendOne(connection) }
    }

    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
        self.connection = nil
    }

    func stop() {
        self.stopped = true
    }

    private func sendOne(_ connection: WebSocketEventLoopConnection) {
        Self.writeTimestamp(MonotonicClock.nanoseconds(), into: &self.payload)
        let message = WebSocketMessage(kind: self.workload.isText ? .text : .binary, data: self.payload)
        try? connection.send(message)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func writeTimestamp(_ value: UInt64, into buffer: inout ByteBuffer) {
        for index in 0..<16 {
            let nibble = Int((value >> UInt64(60 - index * 4)) & 0xF)
            buffer.setInteger(Self.hexDigits[nibble], at: buffer.readerIndex + index)
        }
    }

    private static func readTimestamp(_ buffer: ByteBuffer) -> UInt64? {
        var value: UInt64 = 0
        for index in 0..<16 {
            guard let byte = buffer.getInteger(at: buffer.readerIndex + index, as: UInt8.self) else { return nil }
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            default: return nil
            }
            value = value << 4 | UInt64(nibble)
        }
        return value
    }

    private func flushStatistics() {
        if self.recorder.isMeasuring {
            self.recorder.merge(messages: self.pendingMessages, errors: self.pendingErrors, histogram: self.histogram)
        }
        self.histogram.reset()
        self.pendingMessages = 0
        self.pendingErrors = 0
    }
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC), cheap enough to read per message.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        UInt64(NIODeadline.now().uptimeNanoseconds)
    }
}
