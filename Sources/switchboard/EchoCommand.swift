import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import NIOPosix
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// `switchboard echo`: sends every message back as it came. What clients are tested against, and what the
/// conformance suite and benchmarks run against.
struct EchoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Run a WebSocket echo server (16 MiB message limit)."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 9001

    @OptionGroup var tls: TLSOptions

    @Flag(name: .customLong("no-deflate"), help: "Do not negotiate permessage-deflate.")
    var noDeflate = false

    @Option(help: "Event-loop threads (default: one per available core).")
    var threads: Int?

    @Option(help: TransportChoice.help)
    var transport: TransportChoice?

    @Option(name: .customLong("ping-interval"), help: "Seconds between heartbeat pings to silent peers (0 disables).")
    var pingInterval: Int = 30

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "switchboard.echo")
        logger.logLevel = Logger.Level(rawValue: self.logLevel) ?? .info
        let tls = try self.tls.makeServerContext()
        let transport = try TransportChoice.resolve(self.transport, tls: tls != nil)
        let group = try transport.makeGroup(threads: self.threads ?? System.coreCount)
        var connection = WebSocketConfiguration(limits: .echoServer)
        connection.deflate = self.noDeflate ? nil : PerMessageDeflateConfiguration()
        connection.heartbeat = self.pingInterval > 0 ? .init(interval: .seconds(Int64(self.pingInterval))) : nil
        connection.maximumOutboundBufferSize = 64 << 20
        let configuration = WebSocketServerConfiguration(host: self.host, port: self.port, connection: connection,
                                                         tls: tls)
        let server = WebSocketServer(configuration: configuration, eventLoopGroup: group, logger: logger,
                                     handler: .eventLoop { _ in WebSocketEchoHandler() })
        try await server.start()
        let scheme = configuration.tls == nil ? "ws" : "wss"
        print("echo server on \(scheme)://\(self.host):\(server.localAddress?.port ?? self.port)/ (deflate \(self.noDeflate ? "off" : "on"), \(transport.rawValue))")
        fflush(nil)  // scripts wait for this line; stdout is block-buffered when it is not a terminal
        _ = await SignalWaiter.waitForTermination()
        logger.info("shutting down", metadata: ["connections": "\(server.connectionCount)"])
        await server.shutdown(gracePeriod: .seconds(5))
        try await group.shutdownGracefully()
    }
}
