import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardTestSupport

/// A bare TCP client that writes HTTP/1.1 by hand and reads responses off the wire, so tests see exactly
/// what the server sends (keep-alive, pipelining, framing) with no HTTP client library in between.
final class LoopbackHTTPConnection: Sendable {
    /// One response as read off the wire.
    struct Response: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: String

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    struct Timeout: Error, CustomStringConvertible {
        var description: String
    }

    private struct State {
        var received = ByteBuffer()
        var ended = false
    }

    private let socket: LoopbackSocket
    private let state: NIOLockedValueBox<State>

    private init(socket: LoopbackSocket, state: NIOLockedValueBox<State>) {
        self.socket = socket
        self.state = state
    }

    static func connect(port: Int) async throws -> LoopbackHTTPConnection {
        let state = NIOLockedValueBox(State())
        let socket = try await LoopbackSocket.connect(
            port: port,
            onRead: { bytes in state.withLockedValue { _ = $0.received.writeBuffer(&bytes) } },
            onEnd: { state.withLockedValue { $0.ended = true } })
        return LoopbackHTTPConnection(socket: socket, state: state)
    }

    func write(_ text: String) async throws {
        try await self.socket.write(text)
    }

    /// The next whole response (`Content-Length` or chunked body); nil if the server closed first.
    func response(within timeout: Duration = TestPatience.default) async throws -> Response? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let (response, ended): (Response?, Bool) = self.state.withLockedValue { state in
                (Self.takeResponse(from: &state.received), state.ended)
            }
            if let response { return response }
            if ended { return nil }
            guard ContinuousClock.now < deadline else { throw Timeout(description: "no whole response within \(timeout)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    /// True once the server has closed the connection (waits up to `timeout`).
    func closedByServer(within timeout: Duration = TestPatience.default) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if self.state.withLockedValue({ $0.ended }) { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    func close() async {
        await self.socket.close()
    }

    /// Consumes one complete response from the front of `buffer`, or nothing.
    private static func takeResponse(from buffer: inout ByteBuffer) -> Response? {
        var rest = buffer
        let bytes = Array(rest.readableBytesView)
        guard let headEnd = bytes.indices.dropLast(3).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }) else {
            return nil
        }
        let lines = String(decoding: bytes[..<headEnd], as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        rest.moveReaderIndex(forwardBy: headEnd + 4)
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        var response = Response(status: statusParts.count > 1 ? Int(statusParts[1]) ?? -1 : -1, headers: [], body: "")
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            response.headers.append((String(parts[0]), parts.count > 1 ? parts[1].trimmingBlanks() : ""))
        }
        if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
            // RFC 9112 §7.1: hex size CRLF, data CRLF, ..., a zero-size chunk, then (no trailers here) CRLF.
            var body = ""
            while true {
                guard let sizeLine = rest.readLine(), let size = Int(sizeLine, radix: 16) else { return nil }
                if size == 0 {
                    guard rest.readLine() != nil else { return nil }
                    break
                }
                guard let chunk = rest.readString(length: size), rest.readLine() != nil else { return nil }
                body += chunk
            }
            response.body = body
        } else {
            let length = response.header("Content-Length").flatMap { Int($0) } ?? 0
            guard let body = rest.readString(length: length) else { return nil }
            response.body = body
        }
        buffer = rest
        return response
    }
}

extension ByteBuffer {
    /// Reads up to and including the next CRLF; returns the line without it, or nil (reading nothing) if
    /// no whole line is there yet.
    fileprivate mutating func readLine() -> String? {
        let view = self.readableBytesView
        guard let lineFeed = view.firstIndex(of: 10), lineFeed > view.startIndex, view[lineFeed - 1] == 13 else { return nil }
        let length = lineFeed - view.startIndex
        let line = self.readString(length: length - 1)
        self.moveReaderIndex(forwardBy: 2)
        return line
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (optional whitespace around a field value).
    fileprivate func trimmingBlanks() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(self.drop(while: isBlank).reversed().drop(while: isBlank).reversed())
    }
}
