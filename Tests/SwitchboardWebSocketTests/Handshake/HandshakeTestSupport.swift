import SwitchboardTestSupport
import NIOCore
@testable import SwitchboardWebSocket

/// What a parser run produced: the result and, for a complete head, the bytes it left unread.
struct HeadParseOutcome: Hashable {
    var result: HTTPHeadParser.Result
    var unread: [UInt8]
}

enum HeadFeeding {
    /// Feeds `bytes` to a fresh parser in chunks of the given sizes (the last chunk takes the rest),
    /// stopping at the first result that is not `.needMoreBytes`; everything not consumed by then,
    /// including chunks never fed, counts as unread.
    static func run(_ bytes: [UInt8], kind: HTTPHeadParser.Kind, maximumSize: Int = 8192,
                    chunkSizes: [Int]) -> HeadParseOutcome {
        var parser = HTTPHeadParser(kind: kind, maximumSize: maximumSize)
        var offset = 0
        var sizes = chunkSizes[...]
        while offset < bytes.count {
            let size = min(sizes.popFirst() ?? bytes.count, bytes.count - offset)
            var buffer = ByteBuffer(bytes: bytes[offset..<(offset + size)])
            offset += size
            let result = parser.parse(&buffer)
            if case .failure = result {
                // After a failure the connection is closed; what was consumed is of no interest.
                return HeadParseOutcome(result: result, unread: [])
            }
            if result != .needMoreBytes {
                return HeadParseOutcome(result: result, unread: Array(buffer.readableBytesView) + Array(bytes[offset...]))
            }
            precondition(buffer.readableBytes == 0, "needMoreBytes must consume everything")
        }
        return HeadParseOutcome(result: .needMoreBytes, unread: [])
    }

    static func whole(_ bytes: [UInt8], kind: HTTPHeadParser.Kind, maximumSize: Int = 8192) -> HeadParseOutcome {
        run(bytes, kind: kind, maximumSize: maximumSize, chunkSizes: [bytes.count])
    }

    static func byteByByte(_ bytes: [UInt8], kind: HTTPHeadParser.Kind, maximumSize: Int = 8192) -> HeadParseOutcome {
        run(bytes, kind: kind, maximumSize: maximumSize, chunkSizes: Array(repeating: 1, count: bytes.count))
    }

    static func randomSplits(_ bytes: [UInt8], kind: HTTPHeadParser.Kind, maximumSize: Int = 8192,
                             seed: UInt64) -> HeadParseOutcome {
        var generator = SeededGenerator(seed: seed)
        let sizes = Chunking.randomSplits(bytes, maximumLength: min(64, bytes.count / 3 + 1), using: &generator).map(\.count)
        return run(bytes, kind: kind, maximumSize: maximumSize, chunkSizes: sizes)
    }
}

/// Builds a request head from lines, CRLF-terminated, with the blank line.
func requestHead(_ lines: [String]) -> [UInt8] {
    Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
}

/// The RFC 6455 §1.3 sample request.
let rfcSampleRequestLines = [
    "GET /chat HTTP/1.1",
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Origin: http://example.com",
    "Sec-WebSocket-Protocol: chat, superchat",
    "Sec-WebSocket-Version: 13",
]

/// A valid handshake request with `name` replaced by `value` (nil removes it) or added.
func handshakeRequest(replacing name: String? = nil, with value: String? = nil, adding extra: [(String, String)] = [],
                      method: String = "GET", versionMinor: Int = 1) -> HandshakeRequest {
    var fields: [(String, String)] = [
        ("Host", "server.example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    if let name {
        fields.removeAll { $0.0 == name }
        if let value { fields.append((name, value)) }
    }
    fields.append(contentsOf: extra)
    return HandshakeRequest(method: method, target: "/chat", versionMinor: versionMinor, headers: HTTPHeaderFields(fields))
}
