import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwitchboardTestSupport

/// A WebSocket client written by hand over raw TCP: it upgrades, sends masked text frames, and can stop
/// reading the socket altogether, which no well-behaved client library does. For slow-consumer tests, and
/// for reading the exact status of a refused upgrade.
final class RawWebSocketPeer: Sendable {
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

    private var channel: any Channel { self.socket.channel }

    /// Connects; `receiveBufferSize` shrinks the socket's receive buffer (and so the TCP window), so a peer
    /// that stops reading pushes back on the server after a few kilobytes instead of megabytes.
    static func connect(port: Int, receiveBufferSize: Int? = nil) async throws -> RawWebSocketPeer {
        let state = NIOLockedValueBox(State())
        let socket = try await LoopbackSocket.connect(
            port: port, receiveBufferSize: receiveBufferSize,
            // Only the upgrade response is ever parsed; frames are counted, not kept.
            onRead: { bytes in state.withLockedValue { if $0.received.readableBytes < 64 << 10 { $0.received.writeBuffer(&bytes) } } },
            onEnd: { state.withLockedValue { $0.ended = true } })
        return RawWebSocketPeer(socket: socket, state: state)
    }

    /// Sends an upgrade request for `target` and returns the response's status code (101 when accepted).
    func upgrade(_ target: String, headers: [(String, String)] = [], within timeout: Duration = TestPatience.default) async throws -> Int {
        try await self.upgradeResponse(target, headers: headers, within: timeout).status
    }

    /// Sends an upgrade request for `target` and returns the response's status code and headers (names
    /// lowercased).
    func upgradeResponse(_ target: String, headers: [(String, String)] = [], within timeout: Duration = TestPatience.default)
        async throws -> (status: Int, headers: [String: String])
    {
        var request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        try await self.channel.writeAndFlush(ByteBuffer(string: request + "\r\n"))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let response: (status: Int, headers: [String: String])? = self.state.withLockedValue { state in
                let view = state.received.readableBytesView
                guard let end = view.indices.first(where: { index in
                    index + 3 < view.endIndex && view[index] == 13 && view[index + 1] == 10 && view[index + 2] == 13 && view[index + 3] == 10
                }) else { return nil }
                let head = state.received.readString(length: end - view.startIndex)!
                state.received.moveReaderIndex(forwardBy: 4)
                let lines = head.split(separator: "\r\n")
                let parts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
                var fields: [String: String] = [:]
                for line in lines.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                return (parts.count > 1 ? Int(parts[1]) ?? -1 : -1, fields)
            }
            if let response { return response }
            if self.state.withLockedValue({ $0.ended }) { throw EndToEndFailure("the server closed the connection without answering the upgrade") }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw EndToEndFailure("no answer to the upgrade within \(timeout)")
    }

    /// Sends one masked text frame (RFC 6455 §5.3: every client frame is masked).
    func sendText(_ text: String) async throws {
        let payload = Array(text.utf8)
        let mask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
        var frame = ByteBuffer()
        frame.writeInteger(UInt8(0x81))
        switch payload.count {
        case ..<126: frame.writeInteger(UInt8(0x80 | payload.count))
        case ..<65536:
            frame.writeInteger(UInt8(0x80 | 126))
            frame.writeInteger(UInt16(payload.count))
        default:
            frame.writeInteger(UInt8(0x80 | 127))
            frame.writeInteger(UInt64(payload.count))
        }
        frame.writeBytes(mask)
        frame.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        try await self.channel.writeAndFlush(frame)
    }

    /// Stops reading the socket: the kernel buffers fill and the server's writes back up.
    func stopReading() async throws {
        try await self.socket.stopReading()
    }

    func resumeReading() async throws {
        try await self.socket.resumeReading()
    }

    /// True once the server has ended the connection (reading must be on to notice).
    func ended(within timeout: Duration = TestPatience.default) async throws -> Bool {
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
}
