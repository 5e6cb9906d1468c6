import Foundation
import SwitchboardTestSupport
import Testing

/// The plain HTTP side of the node's one port, end to end: health, metrics, the API's info, development
/// tokens, and the demo page.
@Suite struct HTTPSurfaceEndToEndTests {
    @Test(arguments: TestTransport.all) func healthAnswers200WhileServing(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let response = try await node.http("GET", "/health")
            #expect(response.status == 200)
            #expect(response.body == "ok\n")
            #expect(response.header("Content-Type") == "text/plain; charset=utf-8")
        }
    }

    /// A known path with another method is 405 with `Allow` (RFC 9110 §15.5.6), not the 404 of a path that
    /// does not exist.
    @Test(arguments: TestTransport.all) func aKnownPathWithAnotherMethodIs405WithAllow(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let wrong = try await node.http("GET", "/api/publish", headers: [("Authorization", "apikey \(TestNode.apiKey)")])
            #expect(wrong.status == 405)
            #expect(wrong.header("Allow") == "POST")
            #expect(wrong.body.contains(#""code":100"#))
            let trace = try await node.http("TRACE", "/health")
            #expect(trace.status == 405)
            #expect(trace.header("Allow") == "GET")
            #expect(try await node.http("GET", "/api/nothing-here").status == 404)
        }
    }

    @Test(arguments: TestTransport.all) func metricsAreInPrometheusTextAndCountWebSocketConnections(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice")
            let response = try await node.http("GET", "/metrics")
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("text/plain") == true)
            #expect(response.body.contains("switchboard_connections"))
            let connections = response.body.split(separator: "\n").filter { $0.hasPrefix("switchboard_connections") && $0.contains("websocket") }
            #expect(connections.contains { $0.hasSuffix(" 1") || $0.hasSuffix(" 1.0") }, "\(connections)")
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func apiInfoDescribesTheNodeAsJSONBehindTheAPIKey(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let client = try await node.connectedClient("alice")
            _ = try await client.subscribe("chat:room")
            let response = try await node.http("GET", "/api/info", headers: [("Authorization", "apikey \(TestNode.apiKey)")])
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("application/json") == true)
            let info = try #require(try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any])
            #expect(info["version"] as? String == "0.3.0")
            #expect(info["connections"] as? Int == 1)
            #expect(info["subscriptions"] as? Int == 1)
            #expect(info["channels"] as? Int == 1)
            #expect(info["broker"] as? String == "memory")
            #expect(try await node.http("GET", "/api/info").status == 401)
            await client.close()
        }
    }

    @Test(arguments: TestTransport.all) func devTokenMintsAUsableTokenOnlyWhenADevelopmentSecretIsSet(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport, developmentSecret: TestNode.secret) { node in
            let response = try await node.http("GET", "/dev/token?user=carol&ttl=120")
            #expect(response.status == 200)
            struct Minted: Decodable { var token: String; var user: String; var expires: Int }
            let minted = try JSONDecoder().decode(Minted.self, from: Data(response.body.utf8))
            #expect(minted.user == "carol")
            #expect(minted.expires == 120)
            let client = try await node.client(token: minted.token)
            #expect(try await client.connect().user == "carol")
            await client.close()
            #expect(try await node.http("GET", "/dev/token?user=no%20spaces").status == 400)
        }
        try await TestNode.with(transport: transport) { node in
            let response = try await node.http("GET", "/dev/token?user=carol")
            #expect(response.status == 404)
        }
    }

    @Test(arguments: TestTransport.all) func theRootServesTheDemoPage(transport: TestTransport) async throws {
        try await TestNode.with(transport: transport) { node in
            let response = try await node.http("GET", "/")
            #expect(response.status == 200)
            #expect(response.header("Content-Type")?.hasPrefix("text/html") == true)
            #expect(response.body.contains("<title>Switchboard · demo</title>"))
            // The page is built on the browser client the node serves beside it.
            #expect(response.body.contains("import { Switchboard } from '/switchboard.js';"))
        }
    }
}
