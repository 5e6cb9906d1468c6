import SwitchboardTestSupport
import Testing

/// The scale-out scenarios with clients connected straight to the nodes (and, for the node crash, through a
/// relay in the test that stands in for a load balancer).
extension ScaleOutTests {
    @Suite
    struct DirectScaleOutTests {
        @Test func aPublicationOnOneNodeReachesSubscribersOnTheOthersInOrder() async throws {
            try await withCluster { cluster in
                try await Scenarios.fanOut(cluster: cluster, publisherURL: cluster.a.webSocketURL,
                                           subscriberURLs: [cluster.b.webSocketURL, cluster.c.webSocketURL])
            }
        }

        @Test func aClientWhoseNodeIsKilledRecoversEverythingOnAnotherNode() async throws {
            try await withCluster { cluster in
                let balancer = try await SwitchableTCPProxy.start(forwardingTo: cluster.a.port)
                try await Scenarios.failover(cluster: cluster, subscriberURL: balancer.webSocketURL, publisherPort: cluster.b.port) {
                    balancer.point(at: cluster.c.port)
                    cluster.a.kill()
                }
                await balancer.close()
            }
        }

        @Test func aRedisRestartLosesNoAcknowledgedPublication() async throws {
            try await withCluster { cluster in
                try await Scenarios.redisRestart(cluster: cluster, subscriberURL: cluster.b.webSocketURL, publisherPort: cluster.a.port)
            }
        }
    }
}

/// Runs `body` on a fresh cluster; without redis-server, records a failure (the suites that call this run
/// without it only when `SWITCHBOARD_REQUIRE_REDIS=1`).
func withCluster(_ body: (ScaleOutCluster) async throws -> Void) async throws {
    guard RedisServerProcess.tool.executable != nil else {
        Issue.record(Comment(rawValue: RedisServerProcess.tool.requiredButMissing))
        return
    }
    try await ScaleOutCluster.with(body)
}
