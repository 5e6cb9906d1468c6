import NIOCore
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// Runs the Autobahn TestSuite client cases against our client: `autobahn-client ws://HOST:PORT [AGENT]`.
///
/// Asks a fuzzing server (`kosoku -m fuzzingserver`, or Autobahn's wstest) for its case count, runs every
/// case by echoing what arrives (permessage-deflate offered with `client_max_window_bits`), then asks for
/// the report. A server that drops the connection without answering ends that step with an error, not a hang.
@main
struct AutobahnClient {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let base = arguments.first else {
            print("usage: autobahn-client ws://HOST:PORT [AGENT]")
            return
        }
        let agent = arguments.dropFirst().first ?? "switchboard"
        var configuration = WebSocketClientConfiguration()
        configuration.connection.limits = .echoServer
        configuration.connection.heartbeat = nil
        configuration.connectTimeout = .seconds(10)

        let countConnection = try await WebSocketClient.connect(to: "\(base)/getCaseCount", configuration: configuration)
        var caseCount = 0
        for await message in countConnection.inbound {
            caseCount = Int(message.text ?? "") ?? 0
        }
        print("\(caseCount) cases")

        for index in 1...max(caseCount, 1) where caseCount > 0 {
            do {
                let connection = try await WebSocketClient.connect(to: "\(base)/runCase?case=\(index)&agent=\(agent)", configuration: configuration)
                do {
                    for try await message in connection.inbound {
                        try await connection.send(message)
                    }
                } catch {}
                let status = await connection.closeStatus
                if index % 50 == 0 || index == caseCount { print("case \(index)/\(caseCount): closed \(status)") }
            } catch {
                print("case \(index): \(error)")
            }
        }

        do {
            let report = try await WebSocketClient.connect(to: "\(base)/updateReports?agent=\(agent)", configuration: configuration)
            for await _ in report.inbound {}
            print("report updated")
        } catch {
            print("report not updated: \(error)")
        }
    }
}
