import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardProtocol
import SwitchboardTestSupport

/// A Server-Sent Events stream read off a raw TCP connection: the response head, then the chunked body
/// decoded as it arrives and split into events (`id:` and `data:` lines, a blank line ends an event).
///
/// Written by hand so the test sees exactly the bytes the server streams, not what an HTTP client library
/// makes of them.
final class SSETestStream: Sendable {
    struct Event: Sendable, Hashable {
        var id: String?
        var data: String
        var message: ServerMessage? { try? JSONDecoder().decode(ServerMessage.self, from: Data(self.data.utf8)) }
    }

    private struct State {
        var raw = ByteBuffer()
        var status: Int?
        var headers: [(name: String, value: String)] = []
        /// The decoded body not yet split into events.
        var body = ""
        var events: [Event] = []
        var nextEvent = 0
        /// The TCP connection is closed.
        var ended = false
        /// The last (empty) chunk arrived: the response is over, though the connection may be kept alive.
        var bodyEnded = false
    }

    private let socket: LoopbackSocket
    private let state: NIOLockedValueBox<State>

    private init(socket: LoopbackSocket, state: NIOLockedValueBox<State>) {
        self.socket = socket
        self.state = state
    }

    /// Sends `GET target` (with `headers`) and starts reading the stream.
    /// - Parameter receiveBufferSize: shrinks the socket's receive buffer, so a stream that stops reading
    ///   pushes back on the server after a few kilobytes.
    static func open(port: Int, target: String, headers: [(String, String)] = [], receiveBufferSize: Int? = nil) async throws -> SSETestStream {
        let state = NIOLockedValueBox(State())
        let socket = try await LoopbackSocket.connect(
            port: port, receiveBufferSize: receiveBufferSize,
            onRead: { bytes in
                state.withLockedValue { state in
                    state.raw.writeBuffer(&bytes)
                    Self.parse(&state)
                }
            },
            onEnd: { state.withLockedValue { $0.ended = true } })
        var request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        try await socket.write(request + "\r\n")
        return SSETestStream(socket: socket, state: state)
    }

    /// The response status once the head has arrived.
    func status(within timeout: Duration = TestPatience.default) async throws -> Int {
        try await self.poll(within: timeout, "the response head") { $0.status }
    }

    func header(_ name: String) -> String? {
        self.state.withLockedValue { $0.headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    /// The next event not yet taken (comments such as `: ping` and the `retry:` field are not events).
    func nextEvent(within timeout: Duration = TestPatience.default) async throws -> Event {
        try await self.poll(within: timeout, "an event") { state in
            guard state.nextEvent < state.events.count else { return nil }
            defer { state.nextEvent += 1 }
            return state.events[state.nextEvent]
        }
    }

    /// The next event whose message `match` accepts, skipping others.
    func nextEvent<T>(within timeout: Duration = TestPatience.default, _ what: String, matching match: @escaping (Event, ServerMessage) -> T?) async throws -> T {
        try await self.poll(within: timeout, what) { state in
            while state.nextEvent < state.events.count {
                let event = state.events[state.nextEvent]
                state.nextEvent += 1
                if let message = event.message, let value = match(event, message) { return value }
            }
            return nil
        }
    }

    /// The body of a response that is not a stream (an error), once the server has closed or sent it all.
    func errorBody(within timeout: Duration = TestPatience.default) async throws -> String {
        try await self.poll(within: timeout, "the error body") { state in
            guard state.status != nil else { return nil }
            let length = state.headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) }
            if let length, state.raw.readableBytes >= length { return state.raw.getString(at: state.raw.readerIndex, length: length) }
            return state.ended ? String(buffer: state.raw) : nil
        }
    }

    /// True once the stream is over: its last chunk arrived, or the server closed the connection.
    func ended(within timeout: Duration = TestPatience.default) async -> Bool {
        (try? await self.poll(within: timeout, "the end of the stream") { $0.ended || $0.bodyEnded ? true : nil }) ?? false
    }

    /// Every event received so far, taken or not.
    var receivedEvents: [Event] { self.state.withLockedValue { $0.events } }

    /// Stops reading the socket, like a client that hangs: the server's writes back up.
    func stopReading() async throws {
        try await self.socket.stopReading()
    }

    func resumeReading() async throws {
        try await self.socket.resumeReading()
    }

    func close() async {
        await self.socket.close()
    }

    private func poll<T>(within timeout: Duration, _ what: String, _ check: @escaping (inout State) -> T?) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let value = self.state.withLockedValue({ check(&$0) }) { return value }
            guard ContinuousClock.now < deadline else {
                let events = self.state.withLockedValue { $0.events.suffix(5).map(\.data) }
                throw EndToEndFailure("no \(what) on the SSE stream within \(timeout); last events: \(events)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Head first; then, for a chunked stream, every whole chunk into `body`, and every whole event out of it.
    private static func parse(_ state: inout State) {
        if state.status == nil {
            let view = state.raw.readableBytesView
            guard let end = view.indices.first(where: { index in
                index + 3 < view.endIndex && view[index] == 13 && view[index + 1] == 10 && view[index + 2] == 13 && view[index + 3] == 10
            }) else { return }
            let head = state.raw.readString(length: end - view.startIndex)!
            state.raw.moveReaderIndex(forwardBy: 4)
            let lines = head.components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ")
            state.status = statusParts.count > 1 ? Int(statusParts[1]) ?? -1 : -1
            for line in lines.dropFirst() {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2 else { continue }
                state.headers.append((String(parts[0]), parts[1].trimmingCharacters(in: .whitespaces)))
            }
        }
        let chunked = state.headers.contains { $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased() == "chunked" }
        guard chunked else { return }
        // RFC 9112 §7.1: chunk-size CRLF chunk-data CRLF.
        while true {
            let view = state.raw.readableBytesView
            guard let lineFeed = view.firstIndex(of: 10), lineFeed > view.startIndex else { break }
            let sizeLine = String(decoding: view[view.startIndex..<(lineFeed - 1)], as: UTF8.self)
            guard let size = Int(sizeLine, radix: 16) else { break }
            let headerLength = lineFeed + 1 - view.startIndex
            guard state.raw.readableBytes >= headerLength + size + 2 else { break }
            state.raw.moveReaderIndex(forwardBy: headerLength)
            state.body += state.raw.readString(length: size)!
            state.raw.moveReaderIndex(forwardBy: 2)
            if size == 0 {
                state.bodyEnded = true
                break
            }
        }
        // An event ends with a blank line.
        while let range = state.body.range(of: "\n\n") {
            let block = state.body[..<range.lowerBound]
            state.body.removeSubrange(..<range.upperBound)
            var event = Event(id: nil, data: "")
            var isEvent = false
            for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("id: ") {
                    event.id = String(line.dropFirst(4))
                } else if line.hasPrefix("data: ") {
                    event.data += (isEvent ? "\n" : "") + line.dropFirst(6)
                    isEvent = true
                }
            }
            if isEvent { state.events.append(event) }
        }
    }
}
