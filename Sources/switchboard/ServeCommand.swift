import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SwitchboardServer

/// `switchboard serve`: a real-time node with embedded defaults (in-memory broker, demo page on `/`).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a Switchboard real-time node (channels, history, presence, HTTP API, SSE, dashboard).",
        discussion: "Reads --config (or SWITCHBOARD_CONFIG) and SWITCHBOARD_* environment variables; flags win. See README.md."
    )

    @Option(help: "Address to listen on (default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (default 8000).")
    var port: Int?

    @Flag(name: .customLong("reuse-port"), help: "Share the port with other nodes on this host started with it too (SO_REUSEPORT): the kernel spreads connections across them.")
    var reusePort = false

    @Option(help: "memory (the embedded broker), or redis://host:port; several Redis servers (redis://a:6379,b:6379) shard channels by consistent hash.")
    var broker: String?

    @Option(help: "JSON config file.")
    var config: String?

    @Option(help: "Event-loop threads (default: one per available core).")
    var threads: Int?

    @Option(help: TransportChoice.help)
    var transport: TransportChoice?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        var configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.load(file: self.config)
        } catch let error as ConfigurationError {
            throw ValidationError(error.description)
        }
        if let host = self.host { configuration.host = host }
        if let port = self.port { configuration.port = port }
        if let broker = self.broker { configuration.broker = broker }
        if self.reusePort { configuration.reusePort = true }
        let level = Logger.Level(rawValue: self.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "switchboard")
        var developmentSecret: String?
        if !configuration.auth.hasKeys {
            let secret = Self.developmentSecret(logger: logger)
            configuration.auth.hmacSecrets = [secret]
            developmentSecret = secret
        }
        let threads = self.threads ?? System.coreCount
        let transport = try TransportChoice.resolve(self.transport, tls: configuration.tlsCertificatePath != nil)
        // On epoll, WebSocket connections run on epoll loops; the broker's and plain HTTP's sockets stay on NIO's.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let connections = transport == .epoll ? try transport.makeGroup(threads: threads) : group
        let broker = try BrokerChoice.make(configuration.broker, eventLoopGroup: group, logger: logger)
        let server = try await RealtimeServer(configuration: configuration, broker: broker, eventLoopGroup: connections,
                                              httpEventLoopGroup: group, logger: logger, developmentSecret: developmentSecret)
        let services = ServiceGroup(configuration: .init(
            services: [.init(service: server)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            // Answered either way: a node that cannot listen (the port is taken) fails start-up, and this
            // command exits with the reason instead of waiting for an address that never comes.
            let address = try await server.listeningAddress()
            let scheme = configuration.tlsCertificatePath == nil ? "http" : "https"
            // Scripts and tests wait for this line.
            print("switchboard serving on \(scheme)://\(configuration.host):\(address.port ?? configuration.port)/")
            if let developmentSecret { print("development secret: \(developmentSecret)") }
            fflush(nil)
            try await tasks.waitForAll()
        }
        if connections !== group { try await connections.shutdownGracefully() }
        try await group.shutdownGracefully()
    }

    /// The per-user development secret (``DevelopmentSecretFile``), which `switchboard token` signs with too;
    /// when that file cannot be used, one for this run only: a node that cannot start helps nobody.
    static func developmentSecret(logger: Logger) -> String {
        let file = DevelopmentSecretFile()
        do {
            let secret = try file.secret()
            logger.warning("No token keys configured: using the development HS256 secret in \(file.url.path), which `switchboard token` signs with too. Do not use this in production.")
            return secret
        } catch {
            let secret = AuthConfiguration.generateDevelopmentSecret()
            logger.warning("No token keys configured: using a development HS256 secret for this run only (\(error)). Do not use this in production.",
                           metadata: ["secret": "\(secret)"])
            return secret
        }
    }
}
