import NIOCore
import Testing
@testable import SwitchboardWebSocketNIO

/// Every byte read before the handover reaches the HTTP handlers, however the request was split: checked
/// on an `EmbeddedChannel`, where each `receive` is exactly one read. (Over a socket TCP may join writes into
/// one read, and pausing between writes to keep them apart only works on an idle machine.)
@Suite struct HTTPHandoverReadTests {
    private func answer(to reads: [String]) throws -> RawHTTPResponse? {
        let connection = try EmbeddedConnection.server(httpHandover: HTTPHandoverEndToEndTests.tinyHTTPServer())
        for read in reads { try connection.receive(read) }
        var written = connection.written()
        return RawHTTPResponse.parseWithContentLength(&written)
    }

    /// The first read ends inside the body: the bytes after the head must reach the HTTP handlers too, and
    /// later reads go straight to them.
    @Test func aPostWhoseBodyArrivesInSeveralReadsIsAnswered() throws {
        let answer = try self.answer(to: ["POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 26\r\n\r\nabcdefgh",
                                          "ijklmnopq", "rstuvwxyz"])
        #expect(answer?.status == 200)
        #expect(answer?.body == "POST /echo abcdefghijklmnopqrstuvwxyz")
    }

    /// A head split over reads is kept until it is whole, then handed over with the body's start.
    @Test func aHeadSplitOverSeveralReadsIsHandedOverWhole() throws {
        let answer = try self.answer(to: ["POST /slow HTTP/1.1\r\nHo", "st: a\r\nContent-Length: 4\r\n", "\r\nbo", "dy"])
        #expect(answer?.status == 200)
        #expect(answer?.body == "POST /slow body")
    }
}
