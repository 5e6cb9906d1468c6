import Testing
@testable import SwitchboardClient

/// The `text/event-stream` reader: the format's vectors, and the same events however the bytes are split.
@Suite struct EventStreamParserTests {
    private static let stream = """
        retry: 2000\r
        \r
        data: {"id":0,"type":"reply"}\r
        \r
        id: eyJhIjpbMSwieCJdfQ\r
        data: {"offset":1}\r
        \r
        : ping\r
        \r
        data:first line\r
        data: second line\r
        \r
        event: ignored\r
        data\r
        \r
        id\r
        data: no id any more\r
        \r

        """

    private static let expected: [EventStreamParser.Event] = [
        .init(data: #"{"id":0,"type":"reply"}"#, id: nil),
        .init(data: #"{"offset":1}"#, id: "eyJhIjpbMSwieCJdfQ"),
        .init(data: "first line\nsecond line", id: "eyJhIjpbMSwieCJdfQ"),
        .init(data: "", id: "eyJhIjpbMSwieCJdfQ"),
        .init(data: "no id any more", id: ""),
    ]

    @Test func readsTheFormatsFieldsCommentsAndBlankLines() throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array(Self.stream.utf8)) == Self.expected)
    }

    @Test(arguments: ["\r\n", "\n", "\r"])
    func everyLineEndAndEverySplitGiveTheSameEvents(lineEnd: String) throws {
        let bytes = Array(Self.stream.replacingOccurrences(of: "\r\n", with: lineEnd).utf8)
        for split in 0...bytes.count {
            var parser = EventStreamParser()
            let events = try parser.feed(bytes[..<split]) + parser.feed(bytes[split...])
            #expect(events == Self.expected, "split at \(split)")
        }
        var parser = EventStreamParser()
        #expect(try bytes.flatMap { try parser.feed([$0]) } == Self.expected, "one byte at a time")
    }

    @Test func anEventIsDispatchedOnlyAtItsBlankLine() throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array("data: a\n".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n".utf8)) == [.init(data: "a", id: nil)])
    }

    @Test func anEventWhoseDataLinesTogetherPassTheLimitIsAnError() throws {
        var parser = EventStreamParser(maximumLineLength: 16)
        #expect(try parser.feed(Array("data: 0123456\ndata: 0123456\n".utf8)).isEmpty)
        #expect(throws: EventStreamParser.ParseError.eventTooLarge(16)) { try parser.feed(Array("data: 0\n".utf8)) }
    }

    @Test func aLineOverTheLimitIsAnError() throws {
        var parser = EventStreamParser(maximumLineLength: 16)
        #expect(try parser.feed(Array("data: 0123456789\n".utf8)).isEmpty)
        #expect(throws: EventStreamParser.ParseError.lineTooLong(16)) { try parser.feed(Array("data: 0123456789abcdef".utf8)) }
    }
}

/// Where the SSE transport finds a node's endpoints, from the WebSocket URL.
@Suite struct NodeEndpointsTests {
    @Test func theSSEPathsSitBesideTheWebSocketPath() throws {
        let plain = try NodeEndpoints(webSocketURL: "ws://127.0.0.1:8000/connection/websocket?token=x")
        #expect(!plain.isSecure)
        #expect(plain.host == "127.0.0.1" && plain.port == 8000 && plain.hostHeader == "127.0.0.1:8000")
        #expect([plain.ssePath, plain.commandPath, plain.ticketPath] == ["/connection/sse", "/connection/sse/command", "/connection/ticket"])

        let mounted = try NodeEndpoints(webSocketURL: "wss://rt.example.com/realtime/connection/websocket")
        #expect(mounted.isSecure && mounted.port == 443 && mounted.hostHeader == "rt.example.com")
        #expect(mounted.ssePath == "/realtime/connection/sse")
        #expect(mounted.commandPath == "/realtime/connection/sse/command")
        #expect(mounted.ticketPath == "/realtime/connection/ticket")

        let elsewhere = try NodeEndpoints(webSocketURL: "ws://[::1]:9000/ws")
        #expect(elsewhere.host == "::1" && elsewhere.ssePath == "/connection/sse")
    }

    @Test func aURLThatIsNotAWebSocketURLIsRefused() {
        #expect(throws: (any Error).self) { try NodeEndpoints(webSocketURL: "http://127.0.0.1/connection/websocket") }
    }

    @Test func queryComponentsArePercentEncoded() {
        #expect("a-b_c.d~e".queryComponentEncoded == "a-b_c.d~e")
        #expect("a b+c/d=é".queryComponentEncoded == "a%20b%2Bc%2Fd%3D%C3%A9")
    }
}
