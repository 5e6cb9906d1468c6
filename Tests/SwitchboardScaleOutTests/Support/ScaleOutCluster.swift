import Foundation
import SwitchboardServer
import SwitchboardTestSupport

/// One durable `redis-server` and three `switchboard serve` processes on it, sharing the token secret and
/// the API key as every node of a deployment must. Built per test and stopped by PID at its end.
final class ScaleOutCluster: Sendable {
    static let secret = "scale-out-tests-hmac-secret-of-at-least-32-bytes"
    static let apiKey = "scale-out-tests-api-key"

    let redis: RedisServerProcess
    let nodes: [ServeProcess]
    let directory: URL

    private init(redis: RedisServerProcess, nodes: [ServeProcess], directory: URL) {
        self.redis = redis
        self.nodes = nodes
        self.directory = directory
    }

    /// Starts everything, runs `body`, and stops everything whatever happens.
    static func with(_ body: (ScaleOutCluster) async throws -> Void) async throws {
        let cluster = try await Self.start()
        do {
            try await body(cluster)
        } catch {
            cluster.stop()
            throw error
        }
        cluster.stop()
    }

    static func start() async throws -> ScaleOutCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-scaleout-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = directory.appendingPathComponent("node.json")
        try Self.nodeConfiguration.write(to: configuration, atomically: true, encoding: .utf8)
        let redis = try await RedisServerProcess.start(durable: true)
        let environment = [
            "SWITCHBOARD_HMAC_SECRETS": Self.secret,
            "SWITCHBOARD_API_KEYS": Self.apiKey,
            // nginx, in the tests that put it in front, connects from loopback.
            "SWITCHBOARD_TRUSTED_PROXIES": "127.0.0.1",
        ]
        var nodes: [ServeProcess] = []
        do {
            for name in ["node-a", "node-b", "node-c"] {
                nodes.append(try await ServeProcess.start(
                    name: name, arguments: ["--config", configuration.path, "--broker", redis.url, "--log-level", "notice"],
                    environment: environment, logDirectory: directory))
            }
        } catch {
            nodes.forEach { $0.kill() }
            redis.kill()
            throw error
        }
        return ScaleOutCluster(redis: redis, nodes: nodes, directory: directory)
    }

    /// `feed:*` keeps more history than any test publishes, so recovery never runs out of it; any
    /// authenticated client may publish there. Short heartbeats would only add noise: the defaults stay.
    private static let nodeConfiguration = """
        {
          "namespaces": {
            "feed": { "subscribe": "authenticated", "publish": "authenticated", "historySize": 10000, "historyTTL": 3600 }
          },
          "limits": { "commandsPerSecond": 1000, "commandBurst": 1000 },
          "shutdownGracePeriod": 1, "reconnectDelayMax": 1
        }
        """

    var a: ServeProcess { self.nodes[0] }
    var b: ServeProcess { self.nodes[1] }
    var c: ServeProcess { self.nodes[2] }

    func token(_ user: String) async throws -> String {
        try TokenMinter(secret: Self.secret).mint(user: user, ttl: 3600, now: Date())
    }

    /// Every node's log tail, for a failure message.
    func logs() -> String {
        self.nodes.map { "--- \($0.name) (port \($0.port)):\n\($0.logTail(15))" }.joined(separator: "\n")
    }

    func stop() {
        self.nodes.forEach { $0.stop() }
        self.redis.kill()
        try? FileManager.default.removeItem(at: self.directory)
    }
}
