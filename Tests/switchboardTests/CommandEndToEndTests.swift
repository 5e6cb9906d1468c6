import Foundation
import SwitchboardProtocol
import SwitchboardNodeTestSupport
import SwitchboardTestSupport
import Testing
@testable import switchboard

/// The built `switchboard` binary against a real node on loopback: what a user at a terminal sees.
/// Serialized: each test starts processes, and a loaded 2-core machine should not run them all at once.
@Suite(.serialized) struct CommandEndToEndTests {
    /// One line of `connect`'s stdout, read back.
    struct PrintedPublication: Decodable, Equatable {
        var channel: String
        var offset: UInt64
        var epoch: String
        var data: JSONValue
        var publisher: ClientInfo?
    }

    static func decode(_ line: String) throws -> PrintedPublication {
        try JSONDecoder().decode(PrintedPublication.self, from: Data(line.utf8))
    }

    /// `--protocol protobuf`: the same session in binary messages, in a channel it shares with JSON publishers.
    @Test func connectSpeaksProtobufWhenAsked() async throws {
        try await RealtimeTestNode.with { node in
            let token = try await node.token("alice")
            let connect = try SwitchboardProcess(["connect", node.webSocketBase, "--subscribe", "chat:binary", "--protocol", "protobuf"],
                                                 environment: ["SWITCHBOARD_TOKEN": token])
            defer { connect.terminate() }
            try await connect.waitForStderr(containing: "# subscribed to chat:binary")
            let api = ["SWITCHBOARD_API_KEY": RealtimeTestNode.apiKey]
            let published = try await SwitchboardProcess.run(["publish", "chat:binary", #"{"text":"json in"}"#, "--url", node.httpURL], environment: api)
            #expect(published.status == 0, "stderr: \(published.stderr)")
            try connect.write(line: #"{"n":2}"#)
            try connect.closeInput()
            #expect(try await connect.exitStatus() == 0, "stderr: \(connect.stderr)")
            let all = try connect.stdoutLines.map(Self.decode)
            #expect(all.map(\.offset) == [1, 2])
            #expect(all.map(\.data) == [["text": "json in"], ["n": 2]])
        }
    }

    @Test func connectPrintsWhatPublishSendsAndPublishesItsStdin() async throws {
        try await RealtimeTestNode.with { node in
            let token = try await node.token("alice")
            // The token and the API key from the environment, as the help recommends.
            let connect = try SwitchboardProcess(["connect", node.webSocketBase, "--subscribe", "chat:room"],
                                                 environment: ["SWITCHBOARD_TOKEN": token])
            defer { connect.terminate() }
            try await connect.waitForStderr(containing: "# subscribed to chat:room")
            #expect(connect.stderr.contains("# connected as alice"))

            let api = ["SWITCHBOARD_API_KEY": RealtimeTestNode.apiKey]
            let first = try await SwitchboardProcess.run(["publish", "chat:room", #"{"text":"from the back-end"}"#, "--url", node.httpURL], environment: api)
            #expect(first.status == 0, "stderr: \(first.stderr)")
            let reply = try JSONDecoder().decode(APIPublishReply.self, from: Data(first.stdout.utf8))
            #expect(reply.offset == 1)
            let second = try await SwitchboardProcess.run(["publish", "chat:room", "plain words", "--url", node.webSocketBase], environment: api)
            #expect(second.status == 0, "stderr: \(second.stderr)")

            let received = try await connect.waitForStdoutLines(2).map(Self.decode)
            #expect(received[0] == PrintedPublication(channel: "chat:room", offset: 1, epoch: reply.epoch,
                                                      data: ["text": "from the back-end"], publisher: nil))
            #expect(received[1].data == "plain words")
            #expect(received[1].offset == 2)

            // A line of stdin is published (as a string: it is not JSON), acknowledged and printed back
            // (connect is subscribed to the channel it publishes to) before connect exits 0.
            try connect.write(line: "hello from the terminal")
            try connect.write(line: #"{"n":4}"#)
            try connect.closeInput()
            #expect(try await connect.exitStatus() == 0, "stderr: \(connect.stderr)")
            let all = try connect.stdoutLines.map(Self.decode)
            #expect(all.map(\.offset) == [1, 2, 3, 4])
            #expect(all[2].data == "hello from the terminal")
            #expect(all[2].publisher?.user == "alice")
            #expect(all[3].data == ["n": 4])
            #expect(connect.stderr.contains("# published to chat:room #4"))
        }
    }

    @Test func publishReportsTheServersErrors() async throws {
        try await RealtimeTestNode.with { node in
            let unknown = try await SwitchboardProcess.run(["publish", "nope:x", "1", "--url", node.httpURL, "--api-key", RealtimeTestNode.apiKey])
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("HTTP 404 Not Found: 104"), "stderr: \(unknown.stderr)")
            #expect(unknown.stdout.isEmpty)

            let noKey = try await SwitchboardProcess.run(["publish", "chat:room", "1", "--url", node.httpURL])
            #expect(noKey.status == 1)
            #expect(noKey.stderr.contains("HTTP 401 Unauthorized: 102"), "stderr: \(noKey.stderr)")
            #expect(noKey.stderr.contains("SWITCHBOARD_API_KEY"))

            let nobodyThere = try await SwitchboardProcess.run(["publish", "chat:room", "1", "--url", "http://127.0.0.1:1", "--api-key", "k"])
            #expect(nobodyThere.status == 1)
            #expect(nobodyThere.stderr.contains("cannot publish to http://127.0.0.1:1/api/publish"), "stderr: \(nobodyThere.stderr)")
            // Said in words, not as NIO's nested error values (issue 10).
            #expect(nobodyThere.stderr.contains("cannot connect to 127.0.0.1:1: connection refused"), "stderr: \(nobodyThere.stderr)")
            #expect(!nobodyThere.stderr.contains("SingleConnectionFailure"), "stderr: \(nobodyThere.stderr)")
        }
    }

    @Test func publishReadsDataFromStdin() async throws {
        try await RealtimeTestNode.with { node in
            let publish = try SwitchboardProcess(["publish", "feed:stdin", "-", "--url", node.httpURL, "--api-key", RealtimeTestNode.apiKey])
            defer { publish.terminate() }
            try publish.write(line: #"{"from":"stdin"}"#)
            try publish.closeInput()
            #expect(try await publish.exitStatus() == 0, "stderr: \(publish.stderr)")
            let stored = try await node.broker.history(of: "feed:stdin", since: nil, limit: 10, retention: RealtimeTestNode.feedRetention)
            guard case .publications(let publications, _) = stored else { throw SwitchboardProcess.Failure(description: "history: \(stored)") }
            #expect(publications.map(\.data) == [["from": "stdin"]])
        }
    }

    @Test func connectStopsWithAMessageOnARefusedTokenOrAForcedDisconnect() async throws {
        try await RealtimeTestNode.with { node in
            let refused = try await SwitchboardProcess.run(["connect", node.httpURL, "--token", "not-a-jwt", "--subscribe", "chat:room"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains("error: error 102 unauthorized"), "stderr: \(refused.stderr)")

            // Expired an hour ago: the SDK would retry for ever (109 is temporary to a token provider); a fixed
            // token cannot get better, so the command stops.
            let expired = try await node.token("bob", ttl: 60, issuedAt: Date().addingTimeInterval(-3600))
            let stale = try await SwitchboardProcess.run(["connect", node.webSocketBase, "--token", expired, "--subscribe", "chat:room"])
            #expect(stale.status == 1)
            #expect(stale.stderr.contains("error: the token expired at"), "stderr: \(stale.stderr)")

            let token = try await node.token("bob")
            let connect = try SwitchboardProcess(["connect", node.webSocketBase, "--token", token, "--subscribe", "chat:room", "--no-stdin"])
            defer { connect.terminate() }
            try await connect.waitForStderr(containing: "# subscribed to chat:room")
            try await node.forceDisconnect(user: "bob", reason: "banned")
            #expect(try await connect.exitStatus() == 1)
            #expect(connect.stderr.contains("error: 4501 forced: banned"), "stderr: \(connect.stderr)")
            #expect(!connect.stderr.contains("reconnecting"))
        }
    }

    @Test func connectReconnectsAfterANodeRestartAndPrintsEachPublicationOnce() async throws {
        try await RealtimeTestNode.with { node in
            let token = try await node.token("carol")
            let connect = try SwitchboardProcess(["connect", node.webSocketBase, "--token", token, "--subscribe", "feed:restart", "--no-stdin"])
            defer { connect.terminate() }
            try await connect.waitForStderr(containing: "# subscribed to feed:restart")
            for n in 1...3 { try await node.publish(.integer(Int64(n)), to: "feed:restart") }
            _ = try await connect.waitForStdoutLines(3)

            await node.shutdown()
            for n in 4...6 { try await node.publish(.integer(Int64(n)), to: "feed:restart") }
            try await node.restart()
            try await connect.waitForStderr(containing: "# feed:restart: recovered")
            try await node.publish(7, to: "feed:restart")

            _ = try await connect.waitForStdoutLines(7)
            // Nothing printed twice: one more publication is the next line, and the last.
            try await node.publish(8, to: "feed:restart")
            _ = try await connect.waitForStdoutLines(8)
            let printed = try connect.stdoutLines.map(Self.decode)
            #expect(printed.map(\.offset) == Array(1...8))
            #expect(printed.map(\.data) == (1...8).map { JSONValue.integer(Int64($0)) })
            #expect(connect.stderr.contains("# reconnecting: attempt 1 in"), "stderr: \(connect.stderr)")
        }
    }

    /// A file piped in faster than the node's command rate: the refusals (201, "not executed") are resent
    /// after a pause, so every line arrives, once and in order, and the command still exits 0.
    @Test func linesOverTheRateLimitAreResentNotLost() async throws {
        // 5 commands a second: the 42 commands (connect, subscribe, 40 publishes) hit the limit unless each
        // took the client over 200 ms, which even a loaded machine does not make it (40 a second did).
        try await RealtimeTestNode.with({ $0.limits.commandsPerSecond = 5; $0.limits.commandBurst = 5 }) { node in
            let token = try await node.token("dave")
            let connect = try SwitchboardProcess(["connect", node.webSocketBase, "--token", token, "--subscribe", "feed:fast"])
            defer { connect.terminate() }
            for n in 1...40 { try connect.write(line: String(n)) }
            try connect.closeInput()
            #expect(try await connect.exitStatus() == 0, "stderr: \(connect.stderr)")
            let printed = try connect.stdoutLines.map(Self.decode)
            #expect(printed.map(\.data) == (1...40).map { JSONValue.integer(Int64($0)) })
            #expect(printed.map(\.offset) == Array(1...40))
            #expect(connect.stderr.contains("error 201"), "the limit was reached: \(connect.stderr)")
        }
    }
}
