import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SwitchboardWebSocketNIO

/// One load-generator process: up to ~19,000 clients (a process may hold 20,000 descriptors here) from one
/// source address, driven by `MillionLoad run` through its standard input and output.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Hold clients for `run` (reads commands on stdin, prints a JSON report line a second).")

    @Option(help: "This worker's number, echoed in its reports.") var index: Int
    @Option(help: "The nodes' WebSocket URL.") var url: String
    @Option(help: "The source address to connect from (127.0.0.0/8 here).") var source: String
    @Option(help: "The first user number; users are u<first>…") var firstUser: Int
    @Option(help: "How many clients.") var clients: Int
    @Option(help: "New connections a second during the ramp.") var rate: Double
    @Option(help: "Connect attempts in progress at most during the ramp.") var maxPending = 256
    @Option(help: "The personal channels' namespace.") var personalNamespace = "user"
    @Option(help: "The channel every client subscribes to.") var broadcastChannel = "news:all"
    @Option(help: "Reconnect backoff: the first attempt's cap, in milliseconds (full jitter).") var reconnectBase: Int64 = 1_000
    @Option(help: "Reconnect backoff: the cap, in milliseconds.") var reconnectCap: Int64 = 10_000
    @Option(help: "What the clients run on: epoll (Linux) or nio.") var transport = ClientTransport.default

    func run() throws {
        guard let secret = ProcessInfo.processInfo.environment["SWITCHBOARD_HMAC_SECRETS"]?.split(separator: ",").first else {
            throw ValidationError("SWITCHBOARD_HMAC_SECRETS must hold the nodes' HMAC secret (the clients mint their tokens)")
        }
        let settings = ClientSettings(url: self.url, sourceAddress: self.source, secret: String(secret),
                                      personalNamespace: self.personalNamespace, broadcastChannel: self.broadcastChannel,
                                      reconnectBaseMilliseconds: self.reconnectBase, reconnectCapMilliseconds: self.reconnectCap,
                                      attemptTimeout: .seconds(60))
        // Writes to a driver that has gone must fail with EPIPE, not kill the process mid-report.
        signal(SIGPIPE, SIG_IGN)
        let eventLoop = try self.transport.makeEventLoop()
        let (index, firstUser, clients, rate, maxPending) = (self.index, self.firstUser, self.clients, self.rate, self.maxPending)
        let pool = try eventLoop.submit {
            try ClientPool(worker: index, firstUser: firstUser, count: clients, connectRate: rate, maxPending: maxPending,
                           settings: settings, eventLoop: eventLoop)
        }.wait()
        eventLoop.execute { pool.run() }
        while let line = readLine() {
            eventLoop.execute { pool.handle(command: line) }
        }
        // The driver is gone: end the clients and exit.
        eventLoop.execute { pool.handle(command: "stop") }
        while true { sleep(60) }
    }
}

/// What a worker's clients run on. An epoll socket is a fraction of a NIO channel's memory and CPU, and the
/// generator shares the machine with the nodes it measures.
enum ClientTransport: String, ExpressibleByArgument, CaseIterable {
    case epoll, nio

    #if os(Linux)
    static let `default` = Self.epoll
    #else
    static let `default` = Self.nio
    #endif

    func makeEventLoop() throws -> any EventLoop {
        switch self {
        case .epoll:
            #if os(Linux)
            return try EpollEventLoopGroup(numberOfThreads: 1).next()
            #else
            throw ValidationError("the epoll transport needs Linux")
            #endif
        case .nio:
            return MultiThreadedEventLoopGroup(numberOfThreads: 1).next()
        }
    }
}
