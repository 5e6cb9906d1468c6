import Foundation
import SwitchboardTestSupport

/// nginx in front of a cluster, configured with `docs/nginx/switchboard.conf`, the site DEPLOYMENT.md shows:
/// only its listen address and the documented node addresses are replaced by the test's.
enum NginxFront {
    static let siteFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("docs/nginx/switchboard.conf")

    /// The node addresses the documented site names, in node order.
    static let documentedNodes = ["10.0.0.11:8000", "10.0.0.12:8000", "10.0.0.13:8000"]

    static func start(before cluster: ScaleOutCluster) async throws -> NginxProcess {
        let template = try String(contentsOf: Self.siteFile, encoding: .utf8)
        return try await NginxProcess.start { port in
            var site = template.replacingOccurrences(of: "listen 80;", with: "listen 127.0.0.1:\(port);")
            for (documented, node) in zip(Self.documentedNodes, cluster.nodes) {
                site = site.replacingOccurrences(of: documented, with: "127.0.0.1:\(node.port)")
            }
            return site
        }
    }

    /// Each node's open connections (`GET /api/info`), in node order.
    static func connections(on cluster: ScaleOutCluster) async throws -> [Int] {
        var counts: [Int] = []
        for node in cluster.nodes {
            let response = try await LoopbackHTTPRequest.send("GET", port: node.port, path: "/api/info",
                                                              headers: [("Authorization", "apikey \(ScaleOutCluster.apiKey)")])
            let info = try JSONSerialization.jsonObject(with: response.body) as? [String: Any]
            counts.append(info?["connections"] as? Int ?? -1)
        }
        return counts
    }
}

extension NginxProcess {
    var webSocketURL: String { "ws://127.0.0.1:\(self.port)/connection/websocket" }
}
