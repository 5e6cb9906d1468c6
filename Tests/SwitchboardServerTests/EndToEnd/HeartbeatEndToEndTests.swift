import SwitchboardProtocol
import SwitchboardTestSupport
import Testing
@testable import SwitchboardServer

/// A client that stops answering the server's pings is found and dropped, and counted with code 4002.
@Suite struct HeartbeatEndToEndTests {
    @Test(arguments: TestTransport.all) func aPeerThatNeverAnswersPingsIsDroppedAndCountedAsAHeartbeatTimeout(transport: TestTransport) async throws {
        // A ping a second; five seconds to answer it: the client that does answer must not lose its connection
        // to a loaded machine's scheduling (with one second it did, in a full-suite run), and the silent one
        // is still dropped well within the test's patience.
        try await TestNode.with(transport: transport, {
            $0.pingInterval = 1
            $0.pingTimeout = 5
        }) { node in
            // A raw peer reads (so it is not a slow consumer) but never answers a ping.
            let silent = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await silent.upgrade("/connection/websocket?token=\(try await node.token("mute"))") == 101)
            // A well-behaved client on the same node: its WebSocket client answers pings by itself.
            let alive = try await node.connectedClient("alice")

            #expect(try await silent.ended(within: TestPatience.default), "a peer that never answers pings should be dropped")
            #expect(try await node.eventually(within: TestPatience.default) { $0.connections == 1 })
            let line = try await node.http("GET", "/metrics").body.split(separator: "\n")
                .first { $0.hasPrefix("switchboard_disconnects_total{code=\"4002\"}") }
            #expect(line.flatMap { Double($0.split(separator: " ").last!) } == 1)
            guard case .reply(_, .ping) = try await alive.request(.ping) else {
                throw EndToEndFailure("the client that answers pings should still be served")
            }
            await alive.close()
        }
    }
}
