import Foundation
import Logging
import NIOConcurrencyHelpers
import SwitchboardProtocol
import SwitchboardTestSupport
import Testing

/// No credential in a log: a node logging everything (trace) serves clients that put tokens and tickets in
/// URLs, accepted and refused, on every endpoint that takes them; no line, no metadata and no metric holds one.
@Suite struct CredentialLoggingEndToEndTests {
    /// Every line a logger writes, with its metadata, as text.
    final class CapturingLogHandler: LogHandler, Sendable {
        let lines = NIOLockedValueBox<[String]>([])
        var metadata: Logger.Metadata {
            get { [:] }
            set {}
        }
        var logLevel: Logger.Level {
            get { .trace }
            set {}
        }
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { nil }
            set {}
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            let fields = (metadata ?? [:]).map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            self.lines.withLockedValue { $0.append("\(level) \(message) \(fields)") }
        }
    }

    @Test func tokensAndTicketsInURLsNeverReachTheLogsOrTheMetrics() async throws {
        let handler = CapturingLogHandler()
        let logger = Logger(label: "test.credentials") { _ in handler }
        try await TestNode.with(logger: logger) { node in
            let token = try await node.token("alice")
            let forged = try await node.token("mallory", secret: TestKeys.otherHMACSecret)
            let ticket = try await node.ticket(token: token)
            let sseTicket = try await node.ticket(token: token)
            let unknownTicket = String(repeating: "Z", count: 43)
            let secrets = [token, forged, ticket, sseTicket, unknownTicket]

            // WebSocket: accepted and refused tokens and tickets, a ticket used twice, a wrong path.
            let withToken = try await node.client(token: token)
            _ = try await withToken.connect()
            let forgedClient = try await node.client(token: forged)
            _ = try await forgedClient.closed()
            let withTicket = try await node.client(ticket: ticket)
            _ = try await withTicket.connect()
            for reused in [ticket, unknownTicket] {
                let refused = try await node.client(ticket: reused)
                _ = try await refused.closed()
            }
            let peer = try await RawWebSocketPeer.connect(port: node.port)
            #expect(try await peer.upgrade("/nowhere?token=\(token)&ticket=\(ticket)") == 404)
            await peer.close()
            // SSE: a stream with a ticket, one with a token in the URL, a refused ticket, a command with the
            // token in its query.
            let stream = try await SSETestStream.open(port: node.port, target: "/connection/sse?ticket=\(sseTicket)&channel=chat:lobby")
            #expect(try await stream.status() == 200)
            let tokenStream = try await SSETestStream.open(port: node.port, target: "/connection/sse?token=\(token)&channel=chat:lobby")
            #expect(try await tokenStream.status() == 200)
            let refusedStream = try await SSETestStream.open(port: node.port, target: "/connection/sse?ticket=\(sseTicket)&channel=chat:lobby")
            #expect(try await refusedStream.status() == 401)
            let command = try await node.http("POST", "/connection/sse/command?client=nobody&token=\(forged)", body: #"{"id":1,"type":"ping"}"#)
            #expect(command.status == 404)
            for sse in [stream, tokenStream, refusedStream] { await sse.close() }
            for client in [withToken, withTicket] { await client.close() }

            let metrics = try await node.http("GET", "/metrics").body
            let lines = handler.lines.withLockedValue { $0 }
            // The lines that would name a URL were written: the refused upgrade's, the refused clients'.
            #expect(lines.contains { $0.contains("handshake rejected") && $0.contains("/nowhere") }, "\(lines)")
            #expect(lines.contains { $0.contains("Disconnecting client") }, "\(lines)")
            for secret in secrets {
                #expect(!lines.contains { $0.contains(secret) }, "a log line holds a credential: \(lines.first { $0.contains(secret) } ?? "")")
                #expect(!metrics.contains(secret))
            }
        }
    }
}
