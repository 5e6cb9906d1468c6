import ArgumentParser
import Foundation
import NIOCore
import NIOSSL
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

extension ConnectCommand {
    /// Raw mode, like wscat: lines on stdin go out as text messages; what arrives is printed. At the end of
    /// stdin it closes (1000) and prints what arrives until the close completes, so
    /// `echo hi | switchboard connect ws://…` prints the echo and exits.
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
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let subprotocol = connection.subprotocol { Self.note("connected (subprotocol \(subprotocol))") } else { Self.note("connected") }

        let lines = StandardInputLines.start()
        let sender = Task {
            for await line in lines {
                do { try await connection.send(text: line) } catch { break }
            }
            await connection.close(code: .normalClosure)
        }
        for await message in connection.inbound {
            switch message.kind {
            case .text: print(String(buffer: message.data))
            case .binary: print("<binary \(message.data.readableBytes) bytes: \(message.data.hexDump(format: .compact(maxBytes: 64)))>")
            }
        }
        sender.cancel()
        let status = await connection.closeStatus
        Self.note("closed: \(status)")
        if status.code != .normalClosure { throw ExitCode(1) }
    }

    static func note(_ text: String) {
        FileHandle.standardError.write(Data("# \(text)\n".utf8))
    }
}
