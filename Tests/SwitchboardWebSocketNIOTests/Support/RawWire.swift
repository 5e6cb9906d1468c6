import NIOCore
import SwitchboardTestSupport

/// Hand-written HTTP and WebSocket wire bytes for raw-socket tests, independent of the engine under test.
enum RawHTTP {
    /// The sample nonce of RFC 6455 §1.3 and its accept value.
    static let key = "dGhlIHNhbXBsZSBub25jZQ=="
    static let expectedAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

    /// A valid upgrade request; `extraHeaders` are appended (and may repeat a standard field).
    static func upgradeRequest(target: String = "/", extraHeaders: [(String, String)] = [],
                               omitting omitted: Set<String> = [], version: String = "13") -> String {
        var fields: [(String, String)] = [
            ("Host", "127.0.0.1"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", version),
        ]
        fields.removeAll { omitted.contains($0.0) }
        fields += extraHeaders
        return "GET \(target) HTTP/1.1\r\n" + fields.map { "\($0.0): \($0.1)\r\n" }.joined() + "\r\n"
    }
}

/// A response as read off the wire.
struct RawHTTPResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: String

    func header(_ name: String) -> String? {
        self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Takes a complete head off the front of `buffer` (the body is left there).
    @Sendable static func parseHead(_ buffer: inout ByteBuffer) -> RawHTTPResponse? {
        // Only the first 64 KiB can hold a head; frames may follow it in the same buffer. This runs under
        // the connection's lock on every poll, so it must stay cheap.
        let bytes = Array(buffer.readableBytesView.prefix(64 << 10))
        guard bytes.count >= 4, let end = (0...(bytes.count - 4)).first(where: {
            bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10
        }) else {
            return nil
        }
        buffer.moveReaderIndex(forwardBy: end + 4)
        let lines = String(decoding: bytes[..<end], as: UTF8.self).splitting(on: "\r\n")
        let statusLine = lines[0].split(separator: " ", maxSplits: 2)
        let status = statusLine.count >= 2 ? Int(statusLine[1]) ?? -1 : -1
        let headers = lines.dropFirst().map { line -> (name: String, value: String) in
            let parts = line.split(separator: ":", maxSplits: 1)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]).trimmingSpaces : "")
        }
        return RawHTTPResponse(status: status, headers: headers, body: "")
    }

    /// Takes a complete response with a `Content-Length` body off the front of `buffer` (a keep-alive
    /// connection: the server does not close after it); nothing is consumed until all of it arrived.
    @Sendable static func parseWithContentLength(_ buffer: inout ByteBuffer) -> RawHTTPResponse? {
        var rest = buffer
        guard var response = parseHead(&rest) else { return nil }
        let length = response.header("Content-Length").flatMap { Int($0) } ?? 0
        guard let body = rest.readString(length: length) else { return nil }
        response.body = body
        buffer = rest
        return response
    }

    /// A whole response: the head and everything after it as the body (read after the server closed).
    static func parse(_ buffer: ByteBuffer) -> RawHTTPResponse? {
        var buffer = buffer
        guard var response = parseHead(&buffer) else { return nil }
        response.body = String(buffer: buffer)
        return response
    }
}

extension String {
    var trimmingSpaces: String {
        String(self.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    func splitting(on separator: String) -> [String] {
        var parts: [String] = []
        var rest = Substring(self)
        while let range = rest.firstRange(of: separator) {
            parts.append(String(rest[..<range.lowerBound]))
            rest = rest[range.upperBound...]
        }
        parts.append(String(rest))
        return parts
    }
}

/// One WebSocket frame, written and parsed by hand (RFC 6455 §5.2).
struct RawFrame: Sendable, Equatable {
    var fin = true
    /// RSV1: a permessage-deflate message's first frame.
    var compressed = false
    var opcode: UInt8
    var payload: [UInt8]

    init(fin: Bool = true, compressed: Bool = false, opcode: UInt8, payload: [UInt8]) {
        self.fin = fin
        self.compressed = compressed
        self.opcode = opcode
        self.payload = payload
    }

    static let continuation: UInt8 = 0x0, text: UInt8 = 0x1, binary: UInt8 = 0x2, close: UInt8 = 0x8, ping: UInt8 = 0x9, pong: UInt8 = 0xA

    /// The frame's bytes; a client's frames must be masked (`maskKey`), a server's must not.
    func encoded(maskKey: [UInt8]? = [0x37, 0xFA, 0x21, 0x3D]) -> [UInt8] {
        var bytes: [UInt8] = [(self.fin ? 0x80 : 0) | (self.compressed ? 0x40 : 0) | self.opcode]
        let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
        switch self.payload.count {
        case ..<126:
            bytes.append(maskBit | UInt8(self.payload.count))
        case ..<65536:
            bytes.append(maskBit | 126)
            bytes += [UInt8(self.payload.count >> 8), UInt8(self.payload.count & 0xFF)]
        default:
            bytes.append(maskBit | 127)
            bytes += (0..<8).reversed().map { UInt8((self.payload.count >> ($0 * 8)) & 0xFF) }
        }
        if let maskKey { bytes += maskKey }
        let start = bytes.count
        bytes += self.payload
        if let maskKey {
            // A plain loop over the buffer: tests run unoptimised, and a map per byte is slow enough to hold
            // up the two-thread cooperative pool other tests share.
            bytes.withUnsafeMutableBufferPointer { buffer in
                for index in start..<buffer.count { buffer[index] ^= maskKey[(index - start) & 3] }
            }
        }
        return bytes
    }

    /// Takes one complete frame off the front of `buffer`; unmasks it if masked.
    @Sendable static func parse(_ buffer: inout ByteBuffer) -> RawFrame? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) else { return nil }
        var offset = 2
        var length = Int(second & 0x7F)
        if length == 126 {
            guard let extended = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) else { return nil }
            length = Int(extended)
            offset += 2
        } else if length == 127 {
            guard let extended = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt64.self) else { return nil }
            length = Int(extended)
            offset += 8
        }
        var maskKey: [UInt8]? = nil
        if second & 0x80 != 0 {
            guard let key = buffer.getBytes(at: buffer.readerIndex + offset, length: 4) else { return nil }
            maskKey = key
            offset += 4
        }
        guard var payload = buffer.getBytes(at: buffer.readerIndex + offset, length: length) else { return nil }
        if let maskKey {
            payload.withUnsafeMutableBufferPointer { bytes in
                for index in bytes.indices { bytes[index] ^= maskKey[index & 3] }
            }
        }
        buffer.moveReaderIndex(forwardBy: offset + length)
        return RawFrame(fin: first & 0x80 != 0, compressed: first & 0x40 != 0, opcode: first & 0x0F, payload: payload)
    }

    /// A close frame's status code, if it carries one.
    var closeCode: UInt16? {
        guard self.opcode == Self.close, self.payload.count >= 2 else { return nil }
        return UInt16(self.payload[0]) << 8 | UInt16(self.payload[1])
    }

    static func closeFrame(code: UInt16, reason: String = "") -> RawFrame {
        RawFrame(opcode: close, payload: [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8))
    }
}

extension RawConnection {
    /// The next whole HTTP response (its body read to Content-Length).
    func response() async throws -> RawHTTPResponse {
        guard let response = try await self.receive(RawHTTPResponse.parseWithContentLength) else {
            throw TestFailure("the connection ended before a whole response arrived")
        }
        return response
    }

    /// The next frame from the server, skipping pings when asked; nil if the connection ended first.
    func nextFrame(within timeout: Duration = TestPatience.default, skippingPings: Bool = true) async throws -> RawFrame? {
        while true {
            guard let frame = try await self.receive(within: timeout, RawFrame.parse) else { return nil }
            if skippingPings && frame.opcode == RawFrame.ping { continue }
            return frame
        }
    }

    func send(_ frame: RawFrame) async throws {
        try await self.write(frame.encoded())
    }
}
