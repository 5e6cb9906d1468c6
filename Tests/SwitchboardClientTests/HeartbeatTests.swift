import Foundation
import SwitchboardProtocol
import SwitchboardWebSocketNIO
import Testing
import SwitchboardClient

/// A connection that stays open but goes silent (a half-open TCP connection, a frozen proxy) is only
/// noticed by the heartbeat: the client must give up on it and reconnect.
@Suite struct HeartbeatTests {
    @Test func aSilentConnectionIsDroppedAndReplaced() async throws {
        let connects = CallCounter()
        // Answers `connect` and nothing else, `ping` included.
        let server = WebSocketServer(configuration: WebSocketServerConfiguration(host: "127.0.0.1", port: 0)) { connection in
            for await message in connection.inbound {
                guard let text = message.text, case .success(let command) = ClientCommand.decode(Array(text.utf8)),
                      case .connect = command.body else { continue }
                connects.increment()
                let reply = ServerMessage.reply(id: command.id, .connect(.init(client: "client-\(connects.value)", user: "alice")))
                try? await connection.send(text: String(decoding: try! JSONEncoder().encode(reply), as: UTF8.self))
            }
        }
        try await server.start()
        let port = server.localAddress!.port!
        let client = RealtimeClient(url: "ws://127.0.0.1:\(port)/", configuration: RealtimeClientConfiguration(
            tokenProvider: { "not-checked" },
            reconnect: ReconnectPolicy(baseDelay: .milliseconds(20), maxDelay: .milliseconds(100)),
            heartbeatInterval: .milliseconds(200), heartbeatTimeout: .milliseconds(200)))
        let states = StateRecorder(client)
        try await client.connect()
        try await states.wait(for: "reconnecting after the heartbeat timed out") { state -> Bool? in
            if case .reconnecting = state { true } else { nil }
        }
        try await states.wait(for: "connected again") { state -> Bool? in
            if case .connected(let clientID, _) = state, clientID == "client-2" { true } else { nil }
        }
        await client.disconnect()
        await server.shutdown(gracePeriod: .seconds(1))
    }
}
