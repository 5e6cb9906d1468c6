import Foundation
import SwitchboardClient
import SwitchboardProtocol
import SwitchboardServer
import Testing
@testable import switchboard

/// The choice between raw and protocol mode, what each accepts, and the words and exit codes it reports.
@Suite struct ConnectOptionsTests {
    @Test func protocolModeIsChosenByItsFlags() throws {
        #expect(try !ConnectCommand.parse(["ws://127.0.0.1:9001"]).isProtocolMode)
        #expect(try ConnectCommand.parse(["ws://127.0.0.1:8000", "--realtime"]).isProtocolMode)
        #expect(try ConnectCommand.parse(["127.0.0.1:8000", "--subscribe", "chat:a", "--subscribe", "chat:b"]).subscriptions == ["chat:a", "chat:b"])
        #expect(try ConnectCommand.parse(["http://127.0.0.1:8000", "--publish", "chat:a"]).isProtocolMode)
        #expect(try ConnectCommand.parse(["ws://127.0.0.1:8000", "--token", "t"]).isProtocolMode)
    }

    @Test func flagsOfTheOtherModeAreRefused() {
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--subscribe", "chat:a", "--header", "X: y"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--realtime", "--insecure"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--realtime", "--connect-timeout", "3"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--no-stdin"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--max-attempts", "3"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ftp://h:1", "--realtime"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--realtime", "--max-attempts", "0"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--protocol", "protobuf"]) }
        #expect(throws: (any Error).self) { try ConnectCommand.parse(["ws://h:1", "--realtime", "--protocol", "xml"]) }
    }

    @Test func protocolChoosesTheEncoding() throws {
        #expect(try ConnectCommand.parse(["ws://h:1", "--realtime"]).encoding == nil)
        #expect(try ConnectCommand.parse(["ws://h:1", "--realtime", "--protocol", "protobuf"]).encoding?.encoding == .protobuf)
        #expect(try ConnectCommand.parse(["ws://h:1", "--subscribe", "a", "--protocol", "json"]).encoding?.encoding == .json)
    }

    @Test func exitCodes() {
        #expect(RealtimeSessionOutcome.inputEnded(failedPublications: 0).exitCode == 0)
        #expect(RealtimeSessionOutcome.inputEnded(failedPublications: 2).exitCode == 3)
        #expect(RealtimeSessionOutcome.stopped("4501 forced").exitCode == 1)
    }

    @Test func statusSentences() {
        let url = "ws://127.0.0.1:8000/connection/websocket"
        #expect(StatusText.describe(.connecting, url: url) == "connecting to \(url)")
        #expect(StatusText.describe(.connected(clientID: "c-1", user: "alice"), url: url) == "connected as alice (client c-1)")
        #expect(StatusText.describe(.connected(clientID: "c-1", user: ""), url: url) == "connected anonymously (client c-1)")
        #expect(StatusText.describe(.reconnecting(attempt: 2, delay: .milliseconds(734)), url: url) == "reconnecting: attempt 2 in 0.734 s")
        #expect(StatusText.describe(.disconnected(DisconnectReason(code: .forced, message: "banned")), url: url)
            == "disconnected: 4501 forced: banned")
        #expect(StatusText.describe(DisconnectReason(error: .unauthorized, message: "invalid token")) == "error 102 unauthorized: invalid token")
        #expect(StatusText.describe(.recovered(count: 1), channel: "chat:a") == "chat:a: recovered 1 missed publication")
        #expect(StatusText.describe(.gap(lastDelivered: StreamPosition(offset: 3, epoch: "e"), resumedAt: StreamPosition(offset: 11, epoch: "e")), channel: "chat:a")
            == "chat:a: gap: publications after #3 (epoch e) are lost; continuing after #11 (epoch e)")
    }

    @Test func theExpiryOfAGivenToken() async throws {
        let now = Date()
        let token = try TokenMinter(secret: "a-secret-that-is-at-least-32-bytes-long").mint(user: "alice", ttl: 60, now: now)
        let expiry = try #require(TokenExpiry.expiry(of: token))
        #expect(abs(expiry.timeIntervalSince(now) - 60) < 2)
        #expect(TokenExpiry.expiry(of: "not-a-jwt") == nil)
        #expect(TokenExpiry.expiry(of: "a.b.c") == nil)
    }

    @Test func anHTTPErrorIsDescribedWithTheServersMessage() {
        let notFound = HTTPAPIRequest.Response(status: .notFound, body: Array(#"{"error":{"code":104,"message":"no namespace configured for channel nope:x"}}"#.utf8))
        #expect(PublishCommand.describeFailure(notFound, hadKey: true) == "HTTP 404 Not Found: 104 no namespace configured for channel nope:x")
        let unauthorized = HTTPAPIRequest.Response(status: .unauthorized, body: Array(#"{"error":{"code":102,"message":"missing API key"}}"#.utf8))
        #expect(PublishCommand.describeFailure(unauthorized, hadKey: false).hasSuffix("(pass --api-key or set SWITCHBOARD_API_KEY)"))
        let proxyPage = HTTPAPIRequest.Response(status: .badGateway, body: Array("<html>bad gateway</html>\n".utf8))
        #expect(PublishCommand.describeFailure(proxyPage, hadKey: true) == "HTTP 502 Bad Gateway: <html>bad gateway</html>")
    }
}
