import Foundation
import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

/// The HTTP API's failures: each kind has one status and one code (APIError.Failure), and the body is
/// encoded like every protocol message (sorted keys, `/` not escaped).
@Suite struct HTTPAPIErrorsEndToEndTests {
    private func error(_ response: LoopbackHTTPConnection.Response) throws -> ServerMessage.ProtocolError {
        struct Body: Decodable { var error: ServerMessage.ProtocolError }
        return try JSONDecoder().decode(Body.self, from: Data(response.body.utf8)).error
    }

    @Test func errorBodiesHaveSortedKeysAndUnescapedSlashes() async throws {
        try await TestNode.with { node in
            let response = try await node.api("/api/publish", json: #"{"channel":"nope/x:y","data":1}"#)
            #expect(response.status == 404)
            #expect(response.body == #"{"error":{"code":104,"message":"the namespace of nope/x:y is not configured"}}"#)
        }
    }

    /// Foundation's decoder refuses JSON nested past 512 levels with its generic "not valid JSON": the node
    /// names the reason, for HTTP bodies and for commands alike.
    @Test func tooDeepNestingIsNamed() async throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        try await TestNode.with { node in
            let response = try await node.api("/api/publish", json: #"{"channel":"chat:x","data":\#(deep)}"#)
            #expect(response.status == 400)
            #expect(try error(response).message.contains("nested deeper than 512 levels"), "\(response.body)")
        }
        guard case .failure(let failure) = ClientCommand.decode(Array(deep.utf8)) else {
            Issue.record("a 600-deep array decoded as a command")
            return
        }
        #expect(failure.code == .badRequest)
        #expect(failure.message == "invalid command: nested deeper than 512 levels")
        guard case .failure(let broken) = ClientCommand.decode(Array(#"{"type":"#.utf8)) else { return }
        #expect(broken.message == "invalid command: not valid JSON")
    }

    @Test func historyAndPresenceFailuresHaveOneStatusPerCode() async throws {
        try await TestNode.with { node in
            _ = try await node.publishAll(["a", "b"], to: "chat:history")
            let gone = try await node.api("/api/history", json: #"{"channel":"chat:history","since":{"offset":1,"epoch":"another"}}"#)
            #expect(gone.status == 410)
            #expect(try error(gone).code == .positionNotRetained)
            let off = try await node.api("/api/presence", json: #"{"channel":"user:bob"}"#)
            #expect(off.status == 400)
            #expect(try error(off).code == .notAvailable)
        }
    }

    /// A publish the broker could not confirm is reported as such (504, 203), distinct from one that
    /// certainly did nothing (503, 202); the client command gets the same code.
    @Test func anUnconfirmedPublishIsReportedAsOfUnknownOutcome() async throws {
        try await TestNode.with(broker: UnconfirmedPublishBroker()) { node in
            let response = try await node.api("/api/publish", json: #"{"channel":"chat:x","data":1}"#)
            #expect(response.status == 504)
            let failure = try error(response)
            #expect(failure.code == .outcomeUnknown)
            #expect(failure.message.contains("may or may not have been published"))
            #expect(!failure.message.contains("nothing was published"))

            let alice = try await node.connectedClient("alice")
            _ = try await alice.subscribe("chat:x")
            #expect(try await alice.expectError(.publish(.init(channel: "chat:x", data: 1))).code == .outcomeUnknown)
            await alice.close()
        }
    }
}

/// The memory broker, except that every publish ends as a broker whose reply was lost would end it.
final class UnconfirmedPublishBroker: ForwardingBroker, @unchecked Sendable {
    override func publish(_ data: RawJSON, to channel: String, info: ClientInfo?, history: HistoryRetention) async throws -> Publication {
        throw BrokerError.outcomeUnknown("no reply within the command timeout")
    }
}
