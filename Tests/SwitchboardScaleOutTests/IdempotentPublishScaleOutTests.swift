import Foundation
import SwitchboardTestSupport
import Testing

/// Idempotency keys across nodes: a back-end that retries a publish on another node (its first node died
/// before answering, say) publishes once, and gets the first answer.
extension ScaleOutTests {
    @Suite
    struct IdempotentPublishScaleOutTests {
        @Test func aPublishRetriedWithItsKeyOnAnotherNodeReturnsTheFirstOffsetAndIsDeliveredOnce() async throws {
            try await withCluster { cluster in
                let channel = Scenarios.channel("idempotent")
                let subscriber = Scenarios.client(cluster.c.webSocketURL, cluster: cluster, user: "reader")
                try await subscriber.connect()
                let recorder = NumberedRecorder(try await subscriber.subscribe(channel, as: Numbered.self))

                let keyed = Data(#"{"channel":"\#(channel)","data":{"n":1},"idempotencyKey":"payment-42"}"#.utf8)
                var answers: [String] = []
                for node in [cluster.a, cluster.b] {
                    let response = try await LoopbackHTTPRequest.send("POST", port: node.port, path: "/api/publish",
                                                                      headers: [("Authorization", "apikey \(ScaleOutCluster.apiKey)")],
                                                                      body: keyed, timeoutSeconds: 20)
                    #expect(response.status == 200, "\(node.name): \(response.status) \(response.text)")
                    answers.append(response.text)
                }
                #expect(answers[0] == answers[1], "the retry's answer is the first one's: \(answers)")
                // A publication without a key follows; the subscriber sees 1 once, then 2.
                await BackendPublisher(port: cluster.a.port, channel: channel).publish(2)
                #expect(await recorder.waitForAll(1...2, within: .seconds(30)), "\(recorder.describe())")
                #expect(recorder.all.map(\.value.n) == [1, 2], "\(recorder.describe())")
                await subscriber.disconnect()
            }
        }
    }
}
