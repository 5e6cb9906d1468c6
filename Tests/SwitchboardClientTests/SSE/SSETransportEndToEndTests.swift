import Foundation
import NIOPosix
import SwitchboardProtocol
import SwitchboardNodeTestSupport
import SwitchboardTestSupport
import Testing
@testable import SwitchboardClient

/// The Swift client over Server-Sent Events against a real node: chosen, or fallen back to where a network
/// refuses WebSocket upgrades. Outcomes and order only.
@Suite(.serialized) struct SSETransportEndToEndTests {
    static func client(_ node: RealtimeTestNode, url: String? = nil, transports: [RealtimeTransport],
                       token: (@Sendable () async throws -> String?)? = nil) -> RealtimeClient {
        RealtimeClient(url: url ?? node.url, configuration: RealtimeClientConfiguration(
            tokenProvider: token ?? { try await node.token("alice") },
            reconnect: RealtimeClientEndToEndTests.fastReconnect,
            heartbeatInterval: .seconds(2), heartbeatTimeout: TestPatience.default, requestTimeout: TestPatience.default,
            transports: transports))
    }

    @Test func overServerSentEventsTheClientConnectsSubscribesPublishesAndReadsHistory() async throws {
        try await RealtimeTestNode.with { node in
            let client = Self.client(node, transports: [.serverSentEvents])
            try await client.connect()
            guard case .connected(_, let user) = client.state else { throw ClientTestFailure("state \(client.state)") }
            #expect(user == "alice")
            let collector = Collector(try await client.subscribe("feed:sse", as: Note.self))
            // A command (a POST) and a push (on the stream), in order.
            let position = try await client.publish(Note(text: "one", n: 1), to: "feed:sse")
            try await node.publish(["text": "two", "n": 2], to: "feed:sse")
            let received = try await collector.first(2)
            #expect(received.map(\.value) == [Note(text: "one", n: 1), Note(text: "two", n: 2)])
            #expect(received[0].position == position)
            #expect(received[0].publisher?.user == "alice")
            let history = try await client.history(of: "feed:sse", as: Note.self)
            #expect(history.map(\.value.n) == [1, 2])
            let refused = await #expect(throws: RealtimeClientError.serverError) { try await client.subscribe("nope:x", as: Note.self) }
            #expect(refused?.protocolCode == .unknownChannel)
            await client.disconnect()
            guard case .disconnected = client.state else { throw ClientTestFailure("state \(client.state)") }
        }
    }

    @Test func whereWebSocketsAreBlockedTheClientFallsBackToServerSentEvents() async throws {
        try await RealtimeTestNode.with { node in
            let proxy = try await LoopbackTCPProxy.start(forwardingTo: node.port, blockingWebSockets: true)
            let client = Self.client(node, url: "ws://127.0.0.1:\(proxy.port)/connection/websocket", transports: [.webSocket, .serverSentEvents])
            try await client.connect()
            let collector = Collector(try await client.subscribe("feed:fallback", as: Int.self))
            for n in 1...3 { try await node.publish(.integer(Int64(n)), to: "feed:fallback") }
            #expect(try await collector.first(3).map(\.value) == [1, 2, 3])
            await client.disconnect()
            await proxy.stop()
        }
    }

    @Test func aStreamCutByTheNetworkIsReopenedAndMissesNothing() async throws {
        try await RealtimeTestNode.with { node in
            let proxy = try await LoopbackTCPProxy.start(forwardingTo: node.port)
            let client = Self.client(node, url: "ws://127.0.0.1:\(proxy.port)/connection/websocket", transports: [.serverSentEvents])
            try await client.connect()
            let collector = Collector(try await client.subscribe("feed:cut", as: Int.self))
            for n in 1...3 { try await node.publish(.integer(Int64(n)), to: "feed:cut") }
            _ = try await collector.first(3)
            await proxy.resetAll()
            for n in 4...6 { try await node.publish(.integer(Int64(n)), to: "feed:cut") }
            let received = try await collector.first(6)
            #expect(received.map(\.value) == Array(1...6))
            #expect(received.map(\.offset) == Array(1...6))
            try await node.publish(7, to: "feed:cut")
            _ = try await collector.first(7)
            #expect(collector.all.map(\.value) == Array(1...7), "nothing more (no duplicates) arrives")
            await client.disconnect()
            await proxy.stop()
        }
    }

    @Test func aTokenTheNodeRefusesStopsTheClientWithItsError() async throws {
        try await RealtimeTestNode.with { node in
            let client = Self.client(node, transports: [.serverSentEvents], token: { "not-a-token" })
            await #expect(throws: (any Error).self) { try await client.connect() }
            guard case .disconnected(let reason) = client.state else { throw ClientTestFailure("state \(client.state)") }
            #expect(reason.error == .unauthorized, "\(reason)")
        }
    }

    @Test func aStreamTheNodeRefusesForNowFailsTheAttemptWithItsRetryAfterAndLeavesNothingBehind() async throws {
        try await RealtimeTestNode.with({ $0.limits.maxConnections = 0 }) { node in
            let handlers = SSELink.Handlers(message: { _ in }, closed: { _, _ in })
            let error = await #expect(throws: SSELink.OpenFailure.self) {
                _ = try await SSELink.open(try NodeEndpoints(webSocketURL: node.url), token: nil, timeout: .seconds(5),
                                           currentToken: { nil }, handlers: handlers)
            }
            #expect(error?.reason.contains("503") == true, "\(String(describing: error))")
            #expect(await eventually { SSELink.alive.withLockedValue { $0[node.port, default: 0] } == 0 }, "the failed link is freed")
        }
    }

    @Test func anAttemptWhereNobodyListensFailsAndLeavesNothingBehind() async throws {
        // A port that was free a moment ago: nobody listens there now.
        let placeholder = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let port = placeholder.localAddress!.port!
        try await placeholder.close()
        let handlers = SSELink.Handlers(message: { _ in }, closed: { _, _ in })
        await #expect(throws: SSELink.OpenFailure.self) {
            _ = try await SSELink.open(try NodeEndpoints(webSocketURL: "ws://127.0.0.1:\(port)/connection/websocket"), token: nil,
                                       timeout: .seconds(5), currentToken: { nil }, handlers: handlers)
        }
        #expect(await eventually { SSELink.alive.withLockedValue { $0[port, default: 0] } == 0 }, "the failed link is freed")
    }
}
