import Foundation
import NIOCore
import SwitchboardNodeTestSupport
import SwitchboardTestSupport
import SwitchboardWebSocketNIO
import Testing

/// `connect` in raw mode (a plain WebSocket client) with stdin piped in: what a script sees (issue 10).
@Suite(.serialized) struct RawConnectTests {
    /// Answers each message `reply to <text>` a moment later, as a node answers a `connect` after verifying
    /// its token: a client that closes at the end of stdin gets the close answered at once, and loses these.
    final class LateReplier: WebSocketEventLoopHandler {
        func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
            let reply = WebSocketMessage.text("reply to \(String(buffer: message.data))")
            connection.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(100)) { try? connection.send(reply) }
        }
    }

    static func withLateReplier(_ body: (_ port: Int) async throws -> Void) async throws {
        let server = WebSocketServer(configuration: WebSocketServerConfiguration(host: "127.0.0.1", port: 0),
                                     handler: .eventLoop { _ in LateReplier() })
        try await server.start()
        do {
            try await body(try #require(server.localAddress?.port))
        } catch {
            await server.shutdown(gracePeriod: .seconds(1))
            throw error
        }
        await server.shutdown(gracePeriod: .seconds(1))
    }

    @Test func everyReplyToLinesPipedInIsPrintedBeforeItCloses() async throws {
        try await Self.withLateReplier { port in
            let connect = try SwitchboardProcess(["connect", "ws://127.0.0.1:\(port)/"])
            defer { connect.terminate() }
            for line in ["one", "two", "three"] { try connect.write(line: line) }
            try connect.closeInput()
            #expect(try await connect.exitStatus(within: .seconds(30)) == 0, "stderr: \(connect.stderr)")
            try await Task.sleep(for: .milliseconds(50))
            #expect(connect.stdoutLines == ["reply to one", "reply to two", "reply to three"], "stderr: \(connect.stderr)")
            #expect(connect.stderr.contains("# closed: 1000"), "stderr: \(connect.stderr)")
        }
    }

    /// Commands to a node, its protocol spoken by hand: the `connect` reply waits for the token's check.
    @Test func aNodeAnswersEveryCommandPipedIn() async throws {
        try await RealtimeTestNode.with { node in
            let token = try await node.token("alice")
            let connect = try SwitchboardProcess(["connect", node.url])
            defer { connect.terminate() }
            try connect.write(line: #"{"type":"connect","id":1,"token":"\#(token)"}"#)
            try connect.write(line: #"{"type":"subscribe","id":2,"channel":"chat:room"}"#)
            try connect.write(line: #"{"type":"publish","id":3,"channel":"chat:room","data":"hi"}"#)
            try connect.closeInput()
            #expect(try await connect.exitStatus(within: .seconds(30)) == 0, "stderr: \(connect.stderr)")
            try await Task.sleep(for: .milliseconds(50))
            let ids = connect.stdoutLines.compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["id"] as? Int
            }
            #expect(ids == [1, 2, 3], "stdout: \(connect.stdout)")
        }
    }

    /// A URL without the node's path: the node's 404 names the right one, and the error quotes it.
    @Test func aRefusedUpgradeShowsWhatTheServerSaid() async throws {
        try await RealtimeTestNode.with { node in
            let refused = try await SwitchboardProcess.run(["connect", node.webSocketBase])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("server answered 404 Not Found: no WebSocket endpoint at /; use /connection/websocket"),
                    "stderr: \(refused.stderr)")
        }
    }

    @Test func aClosedPortSaysTheConnectionWasRefused() async throws {
        let port = try LoopbackPort.free()
        let refused = try await SwitchboardProcess.run(["connect", "ws://127.0.0.1:\(port)"])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("error: cannot connect to 127.0.0.1:\(port): connection refused"), "stderr: \(refused.stderr)")
        #expect(!refused.stderr.contains("SingleConnectionFailure"), "stderr: \(refused.stderr)")
    }
}
