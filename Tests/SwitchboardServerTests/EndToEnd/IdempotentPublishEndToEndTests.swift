import Foundation
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing

/// `idempotencyKey` end to end: a retried publish (command or HTTP API) answers with the first position and
/// subscribers get the publication once.
@Suite struct IdempotentPublishEndToEndTests {
    @Test func aPublishCommandRetriedWithItsKeyAnswersTheFirstPositionAndIsDeliveredOnce() async throws {
        try await TestNode.with { node in
            let subscriber = try await node.connectedClient("bob")
            _ = try await subscriber.subscribe("feed:once")
            let publisher = try await node.connectedClient("alice")
            let publish = ClientCommand.Publish(channel: "feed:once", data: ["n": 1], idempotencyKey: "order-17")
            guard case .publish(let first) = try await publisher.expectReply(.publish(publish)),
                  case .publish(let retry) = try await publisher.expectReply(.publish(publish)) else {
                throw EndToEndFailure("publish answered with another result")
            }
            #expect(retry == first)
            // The same data without a key is another publication.
            guard case .publish(let other) = try await publisher.expectReply(.publish(.init(channel: "feed:once", data: ["n": 1]))) else {
                throw EndToEndFailure("publish answered with another result")
            }
            #expect(other.offset == first.offset + 1)
            let received = try await subscriber.publications(2, in: "feed:once")
            #expect(received.map(\.offset) == [first.offset, other.offset])
            await subscriber.close()
            await publisher.close()
        }
    }

    @Test func anHTTPPublishRetriedWithItsKeyAnswersTheFirstPosition() async throws {
        try await TestNode.with { node in
            let body = #"{"channel":"feed:api","data":{"n":1},"idempotencyKey":"import-2026-12-05"}"#
            let first = try await node.api("/api/publish", json: body)
            let retry = try await node.api("/api/publish", json: body)
            #expect(first.status == 200)
            #expect(retry.status == 200)
            #expect(retry.body == first.body, "\(first.body) / \(retry.body)")
            let history = try await node.api("/api/history", json: #"{"channel":"feed:api"}"#)
            #expect(history.body.components(separatedBy: #""offset":"#).count == 3, "one publication and the position: \(history.body)")
        }
    }

    @Test func anEmptyOrOverlongKeyIsRefused() async throws {
        try await TestNode.with { node in
            let publisher = try await node.connectedClient("alice")
            for key in ["", String(repeating: "k", count: 129)] {
                let error = try await publisher.expectError(.publish(.init(channel: "feed:x", data: 1, idempotencyKey: key)))
                #expect(error.code == .badRequest)
                #expect(error.message.contains("idempotencyKey"))
                let response = try await node.api("/api/publish", json: #"{"channel":"feed:x","data":1,"idempotencyKey":"\#(key)"}"#)
                #expect(response.status == 400)
            }
            await publisher.close()
        }
    }
}
