import Foundation
import SwitchboardTestSupport
import Testing

/// The scale-out scenarios through nginx configured as docs/DEPLOYMENT.md says: every client and the
/// back-end use nginx's one address, and nginx spreads them over the nodes.
extension ScaleOutTests {
    @Suite(.enabled(if: (RedisServerProcess.tool.shouldRun && NginxProcess.tool.shouldRun), Comment(rawValue: "\(RedisServerProcess.tool.missingMessage) / \(NginxProcess.tool.missingMessage)")))
    struct NginxScaleOutTests {
        @Test func publicationsReachSubscribersOnEveryNodeThroughNginx() async throws {
            try await withNginxCluster { cluster, nginx in
                try await Scenarios.fanOut(cluster: cluster, publisherURL: nginx.webSocketURL,
                                           subscriberURLs: [nginx.webSocketURL, nginx.webSocketURL]) {
                    // least_conn puts the three connections on three nodes: the publications cross nodes.
                    let spread = try await NginxFront.connections(on: cluster)
                    #expect(spread == [1, 1, 1], "nginx should have spread the three clients over the three nodes: \(spread)")
                }
            }
        }

        @Test func aClientWhoseNodeIsKilledReconnectsThroughNginxAndRecovers() async throws {
            try await withNginxCluster { cluster, nginx in
                try await Scenarios.failover(cluster: cluster, subscriberURL: nginx.webSocketURL, publisherPort: nginx.port) {
                    // The subscriber is the only WebSocket client: its node is the one with a connection.
                    let spread = try await NginxFront.connections(on: cluster)
                    guard let index = spread.firstIndex(of: 1) else {
                        Issue.record("the subscriber is on no node: \(spread)")
                        return
                    }
                    cluster.nodes[index].kill()
                }
            }
        }

        @Test func aRedisRestartLosesNoAcknowledgedPublicationThroughNginx() async throws {
            try await withNginxCluster { cluster, nginx in
                try await Scenarios.redisRestart(cluster: cluster, subscriberURL: nginx.webSocketURL, publisherPort: nginx.port)
            }
        }
    }
}

/// No tools needed: the guide and the tested file must not drift apart.
struct DeploymentGuideTests {
    /// The deployment guide shows the very file these tests run nginx with.
    @Test func theGuideShowsTheTestedNginxConfiguration() throws {
        let site = try String(contentsOf: NginxFront.siteFile, encoding: .utf8)
        let guide = try String(contentsOf: NginxFront.siteFile.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DEPLOYMENT.md"), encoding: .utf8)
        #expect(guide.contains(site), "docs/DEPLOYMENT.md must include docs/nginx/switchboard.conf verbatim")
    }
}

func withNginxCluster(_ body: (ScaleOutCluster, NginxProcess) async throws -> Void) async throws {
    guard NginxProcess.tool.executable != nil else {
        Issue.record(Comment(rawValue: NginxProcess.tool.requiredButMissing))
        return
    }
    try await withCluster { cluster in
        let nginx = try await NginxFront.start(before: cluster)
        defer { nginx.stop() }
        try await body(cluster, nginx)
    }
}
