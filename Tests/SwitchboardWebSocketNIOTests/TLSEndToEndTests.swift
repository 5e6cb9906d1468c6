import NIOCore
import NIOSSL
import SwitchboardTestSupport
import Testing
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// `wss://` over loopback with the self-signed fixture certificate.
@Suite struct TLSEndToEndTests {
    @Test func wssEchoWithAClientThatTrustsTheCertificate() async throws {
        var server = WebSocketServerConfiguration()
        server.tls = try TestCertificates.serverContext()
        try await withServer(configuration: server, handler: asyncEcho) { _, url in
            #expect(url.hasPrefix("wss://127.0.0.1:"))
            var client = WebSocketClientConfiguration()
            client.tls = try TestCertificates.trustingClientConfiguration()
            let connection = try await WebSocketClient.connect(to: url + "/secure", configuration: client)
            let big = WebSocketMessage.binary((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
            let messages: [WebSocketMessage] = [.text("over TLS"), big, .text("")]
            for message in messages { try await connection.send(message) }
            var received: [WebSocketMessage] = []
            let iterator = connection.inbound.makeAsyncIterator()
            while received.count < messages.count, let message = await iterator.next() { received.append(message) }
            #expect(received == messages)
            let status = await connection.close()
            #expect(status.code == .normalClosure)
        }
    }

    @Test func aClientWithDefaultVerificationRefusesTheSelfSignedCertificate() async throws {
        var server = WebSocketServerConfiguration()
        server.tls = try TestCertificates.serverContext()
        try await withServer(configuration: server, handler: asyncEcho) { server, url in
            var client = WebSocketClientConfiguration()
            // A connect timeout no test waits out: a verification failure must end the attempt by itself.
            client.connectTimeout = .hours(1)
            let configuration = client
            let error = await #expect(throws: WebSocketTransportError.self) {
                _ = try await withTimeout(TestPatience.default, "connect") {
                    try await WebSocketClient.connect(to: url, configuration: configuration)
                }
            }
            #expect(error?.code == .handshakeFailed)
            // The failure is about the certificate, not a timeout or a closed connection.
            let description = error.map { String(describing: $0).lowercased() } ?? ""
            #expect(description.contains("certificate"), "\(description)")
            #expect(await eventually { server.connectionCount == 0 })
        }
    }

    @Test func aPlainClientAgainstATLSServerFailsWithoutHanging() async throws {
        var server = WebSocketServerConfiguration()
        server.tls = try TestCertificates.serverContext()
        try await withServer(configuration: server, handler: asyncEcho) { _, url in
            var client = WebSocketClientConfiguration()
            // The TLS server refuses the plaintext: the attempt ends by that, not by a timeout.
            client.connectTimeout = .hours(1)
            let configuration = client
            let plain = "ws://" + url.dropFirst("wss://".count)
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await withTimeout(TestPatience.default, "connect") {
                    try await WebSocketClient.connect(to: plain, configuration: configuration)
                }
            }
        }
    }
}
