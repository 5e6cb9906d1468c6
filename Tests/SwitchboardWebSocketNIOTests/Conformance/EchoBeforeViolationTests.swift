import Foundation
import NIOCore
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO
#if canImport(Glibc)
import Glibc
#endif

/// Autobahn 3.2 as a permanent case: a valid message and a protocol violation in one TCP write. An
/// event-loop handler's echo must reach the wire before the 1002 close (strict OK rather than NON-STRICT),
/// which is what the conformance runs rely on.
@Suite struct EchoBeforeViolationTests {
    @Test func eventLoopEchoPrecedesTheCloseInTheSameRead() async throws {
        var configuration = WebSocketServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.connection = WebSocketConfiguration(deflate: nil, heartbeat: nil)
        let server = WebSocketServer(configuration: configuration, handler: .eventLoop { _ in WebSocketEchoHandler() })
        try await server.start()
        let port = server.localAddress!.port!
        let received = try await Task.detached { try Self.exchange(port: port) }.value
        await server.shutdown(gracePeriod: .seconds(1))

        let hello: [UInt8] = [0x81, 0x05] + Array("Hello".utf8)
        let close1002: [UInt8] = [0x88, 0x02, 0x03, 0xEA]
        #expect(Array(received.prefix(hello.count + close1002.count)) == hello + close1002)
    }

    /// Upgrades over a plain socket, writes "Hello" then a text frame with RSV2 set and a ping in one write
    /// (Autobahn 3.2), and returns the first frame bytes the server sends back.
    static func exchange(port: Int) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ConformanceRunError("socket() failed") }
        defer { close(fd) }
        // A guard against a hang, not a measure: a loaded machine may take seconds to answer.
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ConformanceRunError("connect() failed") }

        let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        try Self.write(fd, Array(request.utf8))
        var bytes = try Self.read(fd, oneByteAtATime: true, until: { $0.count >= 4 && $0.suffix(4).elementsEqual([13, 10, 13, 10]) })
        guard String(decoding: bytes, as: UTF8.self).hasPrefix("HTTP/1.1 101") else {
            throw ConformanceRunError("upgrade refused: \(String(decoding: bytes, as: UTF8.self))")
        }

        let key: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        func masked(_ first: UInt8, _ payload: [UInt8]) -> [UInt8] {
            [first, 0x80 | UInt8(payload.count)] + key + payload.enumerated().map { $0.element ^ key[$0.offset % 4] }
        }
        try Self.write(fd, masked(0x81, Array("Hello".utf8)) + masked(0xA1, Array("Hello".utf8)) + masked(0x89, []))
        // The echo (7 bytes) and the close (4 bytes); the server then waits for our close frame.
        bytes = try Self.read(fd, until: { $0.count >= 11 })
        return bytes
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        guard sent == bytes.count else { throw ConformanceRunError("short write") }
    }

    /// Reads until `done` says so, the peer closes, or 30 s pass without data. With `oneByteAtATime` no byte
    /// past the point `done` accepts is consumed (the HTTP head, then frames).
    static func read(_ fd: Int32, oneByteAtATime: Bool = false, until done: ([UInt8]) -> Bool) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !done(bytes) {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, oneByteAtATime ? 1 : $0.count, 0) }
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }
}
