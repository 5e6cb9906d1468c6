import ArgumentParser
import Foundation
import NIOCore
import NIOSSL
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// `switchboard connect URL`: a terminal WebSocket client, like wscat. Lines on stdin go out as text
/// messages; what arrives is printed. At the end of stdin it closes (1000) and prints what arrives until the
/// close completes, so `echo hi | switchboard connect ws://…` prints the echo and exits.
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect to a WebSocket server: stdin lines are sent as text, messages are printed."
    )

    @Argument(help: "ws:// or wss:// URL.")
    var url: String

    @Option(name: .customLong("header"), help: "Extra request header 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(name: .customLong("subprotocol"), help: "Subprotocol to offer (repeatable).")
    var subprotocols: [String] = []

    @Option(help: "Origin header to send.")
    var origin: String?

    @Flag(help: "Do not verify the server's TLS certificate (testing only).")
    var insecure = false

    @Flag(name: .customLong("no-deflate"), help: "Do not offer permessage-deflate.")
    var noDeflate = false

    @Option(name: .customLong("connect-timeout"), help: "Seconds to wait for TCP, TLS and the handshake.")
    var connectTimeout: Int = 10

    func run() async throws {
        var configuration = WebSocketClientConfiguration()
        configuration.connection.limits = .echoServer
        configuration.connection.deflate = self.noDeflate ? nil : PerMessageDeflateConfiguration()
        configuration.subprotocols = self.subprotocols
        configuration.origin = self.origin
        configuration.connectTimeout = .seconds(Int64(self.connectTimeout))
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

/// Lines from stdin on a thread of their own, so blocking reads never hold a task executor thread.
enum StandardInputLines {
    static func start() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingOldest(1024))
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.start()
        return stream
    }
}
