import NIOCore
import Testing
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// The README's library examples, kept here so they compile and work (STYLE rule 16). Change both together.
@Suite struct ReadmeExampleTests {
    @Test func serverAndClientFromTheReadme() async throws {
        // README: "A server"
        let server = WebSocketServer(configuration: WebSocketServerConfiguration(host: "127.0.0.1", port: 0)) { connection in
            for await message in connection.inbound {
                try? await connection.send(message)  // echo
            }
        }
        try await server.start()
        let port = server.localAddress!.port!

        // README: "A client"
        let connection = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/")
        try await connection.send(text: "hi")
        var echoed: String?
        for await message in connection.inbound {
            echoed = message.text  // README: print(message.text ?? "<binary>")
            await connection.close(code: .normalClosure)  // the loop ends once the close completes
        }
        let status = await connection.closeStatus

        #expect(echoed == "hi")
        #expect(status.code == .normalClosure)
        await server.shutdown()
    }
}
