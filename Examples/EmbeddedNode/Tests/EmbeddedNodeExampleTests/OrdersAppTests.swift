import EmbeddedNodeExample
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle
import SwitchboardClient
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// The example end to end: the shop's API and its node in one ServiceGroup; a user's Swift client
/// subscribed to its channel gets the notice of the order the API took, and a retried order is one notice.
@Suite struct OrdersAppTests {
    @Test func anOrderTakenByTheShopsAPIReachesItsUser() async throws {
        let secret = "example-secret-0123456789-0123456789"
        var logger = Logger(label: "example")
        logger.logLevel = .critical
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.auth.hmacSecrets = [secret]
        configuration.shutdownGracePeriod = 1
        let httpPort = NIOLockedValueBox<Int?>(nil)
        let (node, services) = try await OrdersApp.services(node: configuration, httpPort: 0, logger: logger,
                                                            onHTTPRunning: { port in httpPort.withLockedValue { $0 = port } })
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [], logger: logger)
        let running = Task { try await group.run() }

        let nodePort = try await node.listeningAddress().port!
        let apiPort = try await poll("the shop's API to listen") { httpPort.withLockedValue { $0 } }
        let minter = try TokenMinter(secret: secret)
        let client = RealtimeClient(url: "ws://127.0.0.1:\(nodePort)/connection/websocket",
                                    configuration: RealtimeClientConfiguration(tokenProvider: { try minter.mint(user: "alice", ttl: 600, now: Date()) }))
        try await client.connect()
        let notices = try await client.subscribe("user:alice", as: OrdersApp.OrderNotice.self)

        for _ in 0..<2 {  // the same order twice (a retry): one notice
            let taken = try await LoopbackHTTPRequest.send("POST", port: apiPort, path: "/orders/alice",
                                                           headers: [("Content-Type", "application/json")],
                                                           body: Data(#"{"id":"A-17"}"#.utf8), timeoutSeconds: 20)
            #expect(taken.status == 201, "\(taken.text)")
            #expect(taken.text.contains(#""offset":1"#), "\(taken.text)")
        }
        let other = try await LoopbackHTTPRequest.send("POST", port: apiPort, path: "/orders/alice",
                                                       body: Data(#"{"id":"A-18"}"#.utf8), timeoutSeconds: 20)
        #expect(other.status == 201, "\(other.text)")

        var received: [OrdersApp.OrderNotice] = []
        for try await notice in notices {
            received.append(notice.value)
            if received.count == 2 { break }
        }
        #expect(received == [.init(order: "A-17", status: "received"), .init(order: "A-18", status: "received")])
        await client.disconnect()
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
