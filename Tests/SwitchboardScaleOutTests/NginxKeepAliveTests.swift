import Foundation
import NIOCore
import SwitchboardTestSupport
import SwitchboardWebSocket
import SwitchboardWebSocketNIO
import Testing

/// What the documented nginx site does to the nodes' connections: it pools keep-alive upstream connections
/// (`keepalive 32`) and reuses them for WebSocket upgrades, and it listens on whatever port the operator
/// chose. Every connect here is one attempt: a client library's retries would hide a refused upgrade.
extension ScaleOutTests {
    @Suite(.enabled(if: (RedisServerProcess.tool.shouldRun && NginxProcess.tool.shouldRun), Comment(rawValue: "\(RedisServerProcess.tool.missingMessage) / \(NginxProcess.tool.missingMessage)")))
    struct NginxKeepAliveTests {
        /// Plain requests leave idle pooled connections to the nodes; the upgrades between them reuse
        /// those. Each upgrade must open at the first attempt, and the pool must keep answering HTTP.
        @Test func upgradesOnPooledUpstreamConnectionsOpenAtTheFirstAttempt() async throws {
            try await withNginxCluster { cluster, nginx in
                var failures: [String] = []
                var open: [WebSocketConnection] = []
                for round in 0..<30 {
                    let health = try await LoopbackHTTPRequest.send("GET", port: nginx.port, path: "/health", timeoutSeconds: 10)
                    if health.status != 200 { failures.append("round \(round): GET /health → \(health.status)") }
                    do {
                        open.append(try await Self.connect(nginx, cluster: cluster, user: "pooled-\(round)"))
                    } catch {
                        failures.append("round \(round): upgrade → \(error)")
                    }
                }
                #expect(failures.isEmpty, "\(failures.count) of 60 requests failed: \(failures.prefix(5))\n\(nginx.errorLog.suffix(2000))")
                for connection in open { _ = await connection.close() }
            }
        }

        /// nginx on a port of its own: the page's origin carries that port, so the node must see it in
        /// `Host` (with `$host` it saw none and refused its own page's WebSocket with 403).
        @Test func theNodesAcceptTheirOwnPagesOriginOnANonDefaultPort() async throws {
            try await withNginxCluster { cluster, nginx in
                let origin = "http://127.0.0.1:\(nginx.port)"
                let connection = try await Self.connect(nginx, cluster: cluster, user: "same-origin", origin: origin)
                _ = await connection.close()
                // The SSE command endpoint checks Origin too: an unknown client is 404, not 403.
                let command = try await LoopbackHTTPRequest.send("POST", port: nginx.port, path: "/connection/sse/command?client=unknown",
                                                                 headers: [("Origin", origin), ("Content-Type", "application/json")],
                                                                 body: Data(#"{"id":1,"type":"ping"}"#.utf8), timeoutSeconds: 10)
                #expect(command.status == 404, "status \(command.status): \(String(decoding: command.body, as: UTF8.self))")
            }
        }

        static func connect(_ nginx: NginxProcess, cluster: ScaleOutCluster, user: String, origin: String? = nil) async throws -> WebSocketConnection {
            let token = try await cluster.token(user)
            var configuration = WebSocketClientConfiguration(origin: origin)
            configuration.connectTimeout = .seconds(20)
            return try await WebSocketClient.connect(to: nginx.webSocketURL + "?token=\(token)", configuration: configuration)
        }
    }
}
