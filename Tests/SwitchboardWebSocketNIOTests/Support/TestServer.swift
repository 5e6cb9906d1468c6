import Logging
import NIOCore
import NIOPosix
import SwitchboardTestSupport
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO

/// Starts a server on a free loopback port for the duration of `body`, then shuts it down.
func withServer<Result>(
    transport: TestTransport = .nio,
    configuration: WebSocketServerConfiguration = WebSocketServerConfiguration(),
    upgradeHook: (@Sendable (WebSocketUpgradeRequest) -> WebSocketUpgradeDecision)? = nil,
    httpHandover: WebSocketServer.HTTPHandover? = nil,
    handler: WebSocketServer.Handler,
    _ body: (WebSocketServer, String) async throws -> Result
) async throws -> Result {
    var configuration = configuration
    configuration.host = "127.0.0.1"
    configuration.port = 0
    let server = WebSocketServer(configuration: configuration, eventLoopGroup: transport.group, upgradeHook: upgradeHook,
                                 httpHandover: httpHandover, handler: handler)
    try await server.start()
    let scheme = configuration.tls == nil ? "ws" : "wss"
    let url = "\(scheme)://127.0.0.1:\(server.localAddress!.port!)"
    do {
        let result = try await body(server, url)
        await server.shutdown(gracePeriod: .seconds(2))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(2))
        throw error
    }
}

/// An echo handler on the async API.
let asyncEcho = WebSocketServer.Handler.async { connection in
    for await message in connection.inbound {
        try? await connection.send(message)
    }
}

/// Runs an empty task on every loop of the shared event loop group, twice: whatever those loops had queued
/// (a callback a connection's close scheduled, say) has run when this returns. What a test checks after it
/// does not depend on how long the machine takes to get there, as it would after a sleep.
func settleEventLoops() async throws {
    for _ in 0..<2 {
        for transport in TestTransport.all {
            for eventLoop in transport.group.makeIterator() {
                try await eventLoop.submit {}.get()
            }
        }
    }
}
