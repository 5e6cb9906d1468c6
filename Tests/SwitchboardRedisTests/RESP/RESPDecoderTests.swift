import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardRedis

/// RESP3 vectors (from the RESP3 specification's examples and Redis's replies), each decoded whole, byte by
/// byte and in random chunks: every feeding must give the same values.
@Suite struct RESPDecoderTests {
    static let vectors: [(String, [RESPValue])] = [
        ("+OK\r\n", [.simpleString("OK")]),
        ("-ERR unknown command 'FOO'\r\n", [.error("ERR unknown command 'FOO'")]),
        (":0\r\n:-42\r\n:9223372036854775807\r\n", [.integer(0), .integer(-42), .integer(.max)]),
        ("$5\r\nhello\r\n$0\r\n\r\n", [.bulkString(ByteBuffer(string: "hello")), .bulkString(ByteBuffer())]),
        // Binary-safe: CR LF inside a bulk string is data.
        ("$4\r\na\r\nb\r\n", [.bulkString(ByteBuffer(string: "a\r\nb"))]),
        ("$-1\r\n*-1\r\n_\r\n", [.null, .null, .null]),
        ("#t\r\n#f\r\n", [.boolean(true), .boolean(false)]),
        (",1.23\r\n,inf\r\n,-inf\r\n,10\r\n", [.double(1.23), .double(.infinity), .double(-.infinity), .double(10)]),
        ("(3492890328409238509324850943850943825024385\r\n", [.bigNumber("3492890328409238509324850943850943825024385")]),
        ("!21\r\nSYNTAX invalid syntax\r\n", [.error("SYNTAX invalid syntax")]),
        ("=15\r\ntxt:Some string\r\n", [.verbatimString(format: "txt", text: "Some string")]),
        ("*0\r\n%0\r\n~0\r\n", [.array([]), .map([]), .set([])]),
        ("*3\r\n:1\r\n:2\r\n:3\r\n", [.array([1, 2, 3])]),
        ("*2\r\n*3\r\n:1\r\n$5\r\nhello\r\n:2\r\n#f\r\n", [.array([.array([1, "hello", 2]), .boolean(false)])]),
        ("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
         [.map([.init(key: .simpleString("first"), value: 1), .init(key: .simpleString("second"), value: 2)])]),
        ("~2\r\n+orange\r\n+apple\r\n", [.set([.simpleString("orange"), .simpleString("apple")])]),
        (">3\r\n$7\r\nmessage\r\n$4\r\nchat\r\n$2\r\nhi\r\n", [.push(["message", "chat", "hi"])]),
        // An attribute is read and dropped; the value after it takes its place (RESP3 spec example).
        ("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
         [.array([2039123, 9543892])]),
        // An attribute inside an aggregate.
        ("*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n", [.array([1, 2])]),
        // Redis's HELLO 3 reply, shortened.
        ("%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$5\r\nproto\r\n:3\r\n",
         [.map([.init(key: "server", value: "redis"), .init(key: "proto", value: 3)])]),
        // Deep nesting and empty aggregates in the middle of others.
        ("*3\r\n*1\r\n*1\r\n*0\r\n%0\r\n*1\r\n_\r\n", [.array([.array([.array([.array([])])]), .map([]), .array([.null])])]),
    ]

    @Test(arguments: Self.vectors.indices)
    func decodesEveryFeedingAlike(index: Int) throws {
        let (wire, expected) = Self.vectors[index]
        for feeding in Chunking.feedings(of: Array(wire.utf8), seeds: 1...20, maximumLength: 16) {
            #expect(try Self.decode(feeding) == expected, "vector \(index) fed as \(feeding.count) pieces")
        }
    }

    @Test func nanDecodes() throws {
        let values = try Self.decode([Array(",nan\r\n".utf8)])
        guard case .double(let value)? = values.first else { Issue.record("not a double"); return }
        #expect(value.isNaN)
    }

    /// What the encoder writes, the decoder reads back as the same value, however it is cut.
    @Test func encoderOutputRoundTrips() throws {
        let values: [RESPValue] = Self.vectors.flatMap(\.1) + [
            .error("multi\r\nline"), .map([.init(key: .array([1]), value: .set([.boolean(true)]))]),
            .push([.double(-0.5), .bigNumber("-12345678901234567890")]),
        ]
        var buffer = ByteBuffer()
        for value in values { RESPEncoder.encode(value, into: &buffer) }
        for feeding in Chunking.feedings(of: Array(buffer.readableBytesView), seeds: 1...20, maximumLength: 16) {
            #expect(try Self.decode(feeding) == values)
        }
    }

    @Test func commandsAreArraysOfBulkStrings() {
        var buffer = ByteBuffer()
        RESPEncoder.encodeCommand(["SET", "key", "välue"], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$6\r\nvälue\r\n")
        buffer.clear()
        RESPEncoder.encode(.double(.infinity), into: &buffer)
        RESPEncoder.encode(.verbatimString(format: "txt", text: "x"), into: &buffer)
        RESPEncoder.encode(.error("ERR no"), into: &buffer)
        #expect(String(buffer: buffer) == ",inf\r\n=5\r\ntxt:x\r\n-ERR no\r\n")
    }

    static let malformed: [String] = [
        "?what\r\n",            // unknown type
        ":12a\r\n",             // not an integer
        "#x\r\n",               // not a boolean
        "$3\r\nabcd\r\n",       // bulk without its CRLF where it should be
        "$-2\r\n",              // negative length
        "*-5\r\n",
        "+bare\rcarriage\r\n",  // CR inside a line
        "_x\r\n",               // null with content
        "=3\r\nabc\r\n",        // verbatim without format
        "$?\r\n;4\r\nHell\r\n;0\r\n", // streamed strings are refused
    ]

    @Test(arguments: Self.malformed)
    func malformedInputThrowsWhicheverWayItIsCut(wire: String) {
        for feeding in Chunking.feedings(of: Array(wire.utf8), seeds: 1...20, maximumLength: 16) {
            #expect(throws: RESPDecodingError.self) { try Self.decode(feeding) }
        }
    }

    @Test func limitsAreEnforcedBeforeAllocating() {
        let limits = RESPDecoder.Limits(maximumLength: 10, maximumElements: 3, maximumDepth: 2)
        #expect(throws: RESPDecodingError.self) { try Self.decode([Array("$11\r\n".utf8)], limits: limits) }
        #expect(throws: RESPDecodingError.self) { try Self.decode([Array("*4\r\n".utf8)], limits: limits) }
        #expect(throws: RESPDecodingError.self) { try Self.decode([Array("*1\r\n*1\r\n*1\r\n:1\r\n".utf8)], limits: limits) }
        // A line that never ends is refused once longer than the limit, not buffered forever.
        #expect(throws: RESPDecodingError.self) { try Self.decode([Array("+aaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8)], limits: limits) }
        #expect(throws: Never.self) { try Self.decode([Array("*1\r\n*1\r\n:1\r\n".utf8)], limits: limits) }
    }

    /// A large reply in many small reads is parsed once: finished elements leave the buffer at once.
    @Test func finishedElementsLeaveTheBufferAsTheyArrive() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "*3\r\n:1\r\n:2")
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(String(buffer: buffer) == ":2")  // the header and the first element are consumed
        buffer.writeString("\r\n:3\r\n")
        #expect(try decoder.decode(buffer: &buffer) == .array([1, 2, 3]))
        #expect(buffer.readableBytes == 0)
    }

    static func decode(_ pieces: [[UInt8]], limits: RESPDecoder.Limits = .init()) throws -> [RESPValue] {
        var decoder = RESPDecoder(limits: limits)
        var buffer = ByteBuffer()
        var values: [RESPValue] = []
        for piece in pieces {
            buffer.writeBytes(piece)
            while let value = try decoder.decode(buffer: &buffer) { values.append(value) }
            buffer.discardReadBytes()
        }
        #expect(buffer.readableBytes == 0, "bytes left over")
        return values
    }
}
