import ArgumentParser
import Foundation
import NIOCore
import NIOSSL
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

extension ConnectCommand {
    /// Raw mode, like wscat: lines on stdin go out as text messages; what arrives is printed. At the end of
    /// stdin it keeps printing until the server has been quiet for ``rawDrainQuiet`` (``rawDrainLimit`` at
    /// most), then closes (1000) and prints what arrives until the close completes, so
    /// `printf 'a\nb\n' | switchboard connect ws://…` prints every reply and exits.
    func runRaw() async throws {
        var configuration = WebSocketClientConfiguration()
        configuration.connection.limits = .echoServer
        configuration.connection.deflate = self.noDeflate ? nil : PerMessageDeflateConfiguration()
        configuration.subprotocols = self.subprotocols
        configuration.origin = self.origin
        configuration.connectTimeout = .seconds(Int64(self.connectTimeout ?? 10))
        for header in self.headers {
            guard let colon = header.firstIndex(of: ":") else { throw ValidationError("--header needs 'Name: value', got '\(header)'") }
            configuration.headers.add(name: String(header[..<colon]).trimmingCharacters(in: .whitespaces),
                                      value: String(header[header.index(after: colon)...]).trimmingCharacters(in: .whitespaces))
        }
        if self.insecure { configuration.tls.certificateVerification = .none }

        let connection: WebSocketConnection
        do {
            connection = try await WebSocketClient.connect(to: self.url, configuration: configuration)
        } catch {
            Console.shared.error("\(error)")
            throw ExitCode(2)
        }
        let console = Console.shared
        console.note(connection.subprotocol.map { "connected (subprotocol \($0))" } ?? "connected")

        let lines = StandardInputLines.start()
        let silence = InboundSilence()
        let sender = Task {
            for await line in lines {
                do { try await connection.send(text: line) } catch { return }
            }
            await silence.wait(quiet: Self.rawDrainQuiet, atMost: Self.rawDrainLimit)
            await connection.close(code: .normalClosure)
        }
        for await message in connection.inbound {
            silence.heard()
            // Console, not print: stdout is block-buffered in a pipe, and `connect … | jq` must see each message.
            switch message.kind {
            case .text: console.output(String(buffer: message.data))
            case .binary: console.output("<binary \(message.data.readableBytes) bytes: \(message.data.hexDump(format: .compact(maxBytes: 64)))>")
            }
        }
        sender.cancel()
        let status = await connection.closeStatus
        console.note("closed: \(status)")
        if status.code != .normalClosure { throw ExitCode(1) }
    }

    /// How long the server must be quiet after the end of stdin before raw mode closes (``InboundSilence``).
    static let rawDrainQuiet = Duration.seconds(1)
    /// The longest raw mode keeps printing after the end of stdin before it closes.
    static let rawDrainLimit = Duration.seconds(10)
}
