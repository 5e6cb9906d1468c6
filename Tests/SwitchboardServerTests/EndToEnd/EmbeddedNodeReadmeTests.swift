import Foundation
import Logging
import ServiceLifecycle
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// The README's "A node inside your own server", kept here so it compiles and works (STYLE rule 16).
@Suite struct EmbeddedNodeReadmeTests {
    @Test func aNodeRunsInAServiceGroupAndDrainsOnGracefulShutdown() async throws {
        let secret = TestKeys.hmacSecret
        let apiKey = "readme-api-key"
        var logger = Logger(label: "readme")
        logger.logLevel = .critical

        // README: "A node inside your own server" (port 0 here: any free port).
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.auth.hmacSecrets = [secret]
        configuration.apiKeys = [apiKey]
        configuration.shutdownGracePeriod = 1
        let node = try await RealtimeServer(configuration: configuration, logger: logger)
        let group = ServiceGroup(services: [node], gracefulShutdownSignals: [.sigterm], logger: logger)
        let running = Task { try await group.run() }

        let port = try await node.listeningAddress().port!
        let health = try await LoopbackHTTPRequest.send("GET", port: port, path: "/health", timeoutSeconds: 20)
        #expect(health.status == 200)
        let published = try await LoopbackHTTPRequest.send("POST", port: port, path: "/api/publish",
                                                           headers: [("Authorization", "apikey \(apiKey)")],
                                                           body: Data(#"{"channel":"chat:lobby","data":1}"#.utf8), timeoutSeconds: 20)
        #expect(published.status == 200, "\(published.text)")
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(!node.isReady)
    }
}
