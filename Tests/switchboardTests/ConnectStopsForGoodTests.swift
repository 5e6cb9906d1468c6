import Foundation
import SwitchboardNodeTestSupport
import SwitchboardTestSupport
import Testing

/// `connect` in protocol mode when the client stops for good after stdin delivered a line and ended (issue 10):
/// exit status 1 and one clear sentence, never a crash.
@Suite(.serialized) struct ConnectStopsForGoodTests {
    /// `echo hi | connect …`: the session ends before it reads the line, so the stdin reader is released
    /// with a line unconsumed (this crashed with SIGILL in libdispatch).
    static func connectAfterALine(_ arguments: [String], environment: [String: String] = [:]) async throws -> (status: Int32, stderr: String) {
        let connect = try SwitchboardProcess(["connect"] + arguments, environment: environment)
        defer { connect.terminate() }
        try connect.write(line: "hi")
        try connect.closeInput()
        let status = try await connect.exitStatus(within: .seconds(30))
        return (status, connect.stderr)
    }

    @Test func aRefusedTokenExitsWithItsReason() async throws {
        try await RealtimeTestNode.with { node in
            let refused = try await Self.connectAfterALine([node.webSocketBase, "--subscribe", "chat:lobby"],
                                                          environment: ["SWITCHBOARD_TOKEN": "bad.token.here"])
            #expect(refused.status == 1, "stderr: \(refused.stderr)")
            #expect(refused.stderr.contains("error: error 102 unauthorized"), "stderr: \(refused.stderr)")
        }
    }

    @Test func aRefusedSubscriptionExitsWithItsReason() async throws {
        try await RealtimeTestNode.with { node in
            let token = try await node.token("alice")
            // user:bob is bob's personal channel.
            let refused = try await Self.connectAfterALine([node.webSocketBase, "--token", token, "--subscribe", "user:bob"])
            #expect(refused.status == 1, "stderr: \(refused.stderr)")
            #expect(refused.stderr.contains("error: cannot subscribe to user:bob"), "stderr: \(refused.stderr)")
        }
    }

    @Test func givingUpOnAClosedPortSaysTheConnectionWasRefused() async throws {
        let port = try LoopbackPort.free()
        let gaveUp = try await Self.connectAfterALine(["127.0.0.1:\(port)", "--realtime", "--max-attempts", "2"])
        #expect(gaveUp.status == 1, "stderr: \(gaveUp.stderr)")
        // Why it gave up, in words, not as NIO's nested error values.
        #expect(gaveUp.stderr.contains("error: gave up after 2 reconnect attempts (the last: cannot connect to 127.0.0.1:\(port): connection refused)"),
                "stderr: \(gaveUp.stderr)")
        #expect(!gaveUp.stderr.contains("SingleConnectionFailure"), "stderr: \(gaveUp.stderr)")
    }
}
