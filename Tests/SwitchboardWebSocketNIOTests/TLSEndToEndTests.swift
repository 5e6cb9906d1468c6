import NIOCore
import NIOSSL
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
            client.connectTimeout = .seconds(3)
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
            // A long connect timeout, so "at once" (the certificate refused) is far apart from "timed out" even
            // on a loaded CI machine.
            client.connectTimeout = .seconds(30)
            let configuration = client
            let started = ContinuousClock.now
            let error = await #expect(throws: WebSocketTransportError.self) {
                _ = try await withTimeout(.seconds(40), "connect") {
                    try await WebSocketClient.connect(to: url, configuration: configuration)
                }
            }
            #expect(ContinuousClock.now - started < .seconds(10), "a verification failure must end the attempt at once")
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
            client.connectTimeout = .seconds(3)
            let configuration = client
            let plain = "ws://" + url.dropFirst("wss://".count)
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await withTimeout(.seconds(4), "connect") {
                    try await WebSocketClient.connect(to: plain, configuration: configuration)
                }
            }
        }
    }
}
