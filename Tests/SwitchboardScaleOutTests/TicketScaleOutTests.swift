import Foundation
import SwitchboardTestSupport
import SwitchboardWebSocketNIO
import Testing

/// Connect tickets across nodes: single use is kept by Redis, so a ticket minted on one node opens one
/// connection on whichever node it reaches first, and none after.
extension ScaleOutTests {
    @Suite
    struct TicketScaleOutTests {
        struct Minted: Decodable {
            var ticket: String
        }

        /// Nine connections race with one ticket, three on each node: exactly one gets in, the other eight
        /// are closed with 4006; then a second use on another node than the winner's is refused too.
        @Test func aTicketMintedOnOneNodeOpensExactlyOneConnectionOnAnyNode() async throws {
            try await withCluster { cluster in
                let minted = try await LoopbackHTTPRequest.send("POST", port: cluster.a.port, path: "/connection/ticket",
                                                                headers: [("Authorization", "Bearer \(try await cluster.token("racer"))")],
                                                                timeoutSeconds: 20)
                #expect(minted.status == 200, "POST /connection/ticket → \(minted.status): \(minted.text)")
                let ticket = try JSONDecoder().decode(Minted.self, from: minted.body).ticket
                let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
                    for index in 0..<9 {
                        let url = cluster.nodes[index % 3].webSocketURL + "?ticket=\(ticket)"
                        group.addTask { try await Self.attempt(url) }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 == "connected racer" }.count == 1, "\(outcomes)\n\(cluster.logs())")
                #expect(outcomes.filter { $0 == "closed 4006" }.count == 8, "\(outcomes)")

                // The SSE stream on another node: refused before it opens.
                let stream = try await LoopbackHTTPRequest.send("GET", port: cluster.c.port, path: "/connection/sse?ticket=\(ticket)&channel=feed:x",
                                                                timeoutSeconds: 20)
                #expect(stream.status == 401, "\(stream.status): \(stream.text)")
                #expect(stream.text.contains(#""code":114"#))
            }
        }

        /// Opens `url`, sends `connect`, and says how it went: `connected <user>` or `closed <code>`.
        static func attempt(_ url: String) async throws -> String {
            var configuration = WebSocketClientConfiguration()
            configuration.connectTimeout = .seconds(20)
            let connection = try await WebSocketClient.connect(to: url, configuration: configuration)
            // A refused ticket may close the connection before this goes out.
            try? await connection.send(text: #"{"id":1,"type":"connect"}"#)
            for await message in connection.inbound {
                guard let text = message.text, text.contains(#""id":1"#) else { continue }
                guard text.contains(#""type":"reply""#), let user = text.firstMatch(of: /"user":"([^"]*)"/)?.1 else { break }
                _ = await connection.close()
                return "connected \(user)"
            }
            return "closed \(await connection.closeStatus.code.rawValue)"
        }
    }
}
