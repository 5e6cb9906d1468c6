import Foundation
import Logging
import NIOCore
import SwitchboardWebSocketNIO

/// How a worker's clients behave.
struct ClientSettings: Sendable {
    var url: String
    var sourceAddress: String
    var secret: String
    var personalNamespace: String
    var broadcastChannel: String
    var reconnectBaseMilliseconds: Int64
    var reconnectCapMilliseconds: Int64
    /// An attempt that is not subscribed after this long is abandoned and retried.
    var attemptTimeout: TimeAmount
}

/// A worker's clients and their shared tallies, confined to one event loop.
///
/// Starts clients at a bounded rate (a ramp, with a cap on attempts in progress so a slow cluster is not
/// flooded), watches for attempts that hang, and prints a ``WorkerReport`` line every second.
final class ClientPool: @unchecked Sendable {
    let eventLoop: any EventLoop
    let settings: ClientSettings
    let reader: PushReader
    private let worker: Int
    /// New connections a second; the driver lowers it while the machine has no idle CPU.
    private var connectRate: Double
    private let maxPending: Int
    private let configuration: WebSocketClientConfiguration
    private let signer: TokenSigner
    private let logger: Logger
    private var clients: [LoadClient] = []
    /// Source ports not in use, picked at random for each attempt (see ``takePort()``). Below the kernel's
    /// ephemeral range (32768 and up): a port bound explicitly, on any address, is one connect() no longer
    /// picks for anyone, so 56 workers binding the ephemeral range left the driver none to publish from.
    private var freePorts = Array(UInt16(1_024)...UInt16(32_767))
    private var started = 0
    private var allowance = 0.0
    private var lastPaceAt = NIODeadline.uptimeNanoseconds(0)
    /// Set when the driver ends the ramp.
    private(set) var isFrozen = false
    private(set) var live = 0
    private var everLive = 0

    /// The current phase's tallies; clients add to them directly.
    var tally = PhaseTally()
    private var latency = PhaseLatency()
    private var phase = "ramp"
    /// Counts phases, so a client can tell whether it dropped in the current one.
    private(set) var phaseNumber: UInt16 = 1

    init(worker: Int, firstUser: Int, count: Int, connectRate: Double, maxPending: Int, settings: ClientSettings,
         eventLoop: any EventLoop) throws {
        self.worker = worker
        self.eventLoop = eventLoop
        self.settings = settings
        self.reader = PushReader(broadcastChannel: settings.broadcastChannel)
        self.connectRate = connectRate
        self.maxPending = maxPending
        self.signer = TokenSigner(secret: settings.secret)
        var logger = Logger(label: "million.client")
        logger.logLevel = .critical
        self.logger = logger
        var connection = WebSocketConfiguration(deflate: nil, heartbeat: nil, inboundBufferSize: 16)
        connection.limits = .applicationDefault
        self.configuration = WebSocketClientConfiguration(connection: connection, connectTimeout: .seconds(30),
                                                          localAddress: try SocketAddress(ipAddress: settings.sourceAddress, port: 0))
        self.clients.reserveCapacity(count)
        for user in firstUser..<(firstUser + count) { self.clients.append(LoadClient(user: user, pool: self)) }
    }

    /// Starts the ramp and the once-a-second report; call on the event loop.
    func run() {
        self.lastPaceAt = NIODeadline.now()
        self.schedulePace()
        self.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            self.abandonSlowAttempts()
            self.printReport(withLatency: false)
        }
    }

    func connect(_ client: LoadClient, fromPort port: UInt16) -> EventLoopFuture<Void> {
        var configuration = self.configuration
        configuration.localAddress = try? SocketAddress(ipAddress: self.settings.sourceAddress, port: Int(port))
        return WebSocketClient.connect(to: self.settings.url, configuration: configuration, eventLoop: self.eventLoop,
                                       logger: self.logger, handler: client)
    }

    /// A random free source port. The worker owns its source address, so it hands out ports itself: a bind
    /// to a given port costs the kernel one lookup, where a bind to port 0 searches every port in use (at
    /// 15,000 connections per address that search was a third of the machine's CPU). Random, because the
    /// kernel's SO_REUSEPORT choice of node hashes the port: a retry from the same port would reach the same
    /// (possibly full) node again.
    func takePort() -> UInt16 {
        let index = Int.random(in: self.freePorts.indices)
        self.freePorts.swapAt(index, self.freePorts.count - 1)
        return self.freePorts.removeLast()
    }

    func returnPort(_ port: UInt16) {
        self.freePorts.append(port)
    }

    func token(for user: String) -> String {
        // A day: longer than any run, so no refresh is needed.
        self.signer.token(user: user, expiresAt: Int(Date().timeIntervalSince1970) + 86_400)
    }

    func clientBecameLive(again: Bool) {
        self.live += 1
        if again { self.tally.resubscribed += 1 } else { self.everLive += 1 }
    }

    func clientLeftLive() {
        self.live -= 1
    }

    func recordLatency(sentAt: UInt64, isBroadcast: Bool, droppedInThisPhase: Bool) {
        let micros = (Self.realtimeNanoseconds() &- sentAt) / 1_000
        if isBroadcast {
            self.latency.broadcast.record(micros)
        } else {
            self.latency.personal.record(micros)
            if !droppedInThisPhase { self.latency.personalUndisturbed.record(micros) }
        }
    }

    /// Publishers put `CLOCK_REALTIME` nanoseconds in `t`: the one clock every process on the host shares.
    static func realtimeNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    // MARK: - Commands from the driver (one per line on standard input)

    func handle(command line: String) {
        let words = line.split(separator: " ")
        switch words.first {
        case "phase"?:
            // Closes the previous phase with a full report, then starts counting afresh.
            self.printReport(withLatency: true)
            self.phase = words.count > 1 ? String(words[1]) : "unnamed"
            self.tally = PhaseTally()
            self.latency = PhaseLatency()
            self.phaseNumber &+= 1
        case "rate"?:
            if words.count > 1, let rate = Double(words[1]), rate >= 0 { self.connectRate = rate }
        case "freeze"?:
            // The ramp is over: start no one else; clients that never got in give up (see LoadClient).
            self.isFrozen = true
        case "report"?:
            self.printReport(withLatency: true)
        case "audience"?:
            self.printReport(withLatency: false, audience: self.liveUserRanges())
        case "stop"?:
            for client in self.clients { client.stop() }
            self.printReport(withLatency: true)
            self.eventLoop.scheduleTask(in: .milliseconds(500)) { exit(0) }
        default:
            try? FileHandle.standardError.write(contentsOf: Data("worker \(self.worker): unknown command \(line)\n".utf8))
        }
    }

    // MARK: -

    /// Whether clients are still to be started by the ramp.
    private var isRamping: Bool { self.started < self.clients.count && !self.isFrozen }

    /// The ramp's next tick: as often as the rate asks for one connect a tick, but no closer than 10 ms and
    /// no further than 250 ms apart, and none once the ramp is over. Near the million's top the ramp is ~50
    /// connects/s among 56 workers; ticking every 10 ms regardless woke the generator 5,600 times a second for
    /// them, through the hold as well.
    private func schedulePace() {
        guard self.isRamping else { return }
        let seconds = min(max(1 / max(self.connectRate, 0.001), 0.01), 0.25)
        self.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) {
            self.pace()
            self.schedulePace()
        }
    }

    private func pace() {
        let now = NIODeadline.now()
        let elapsed = Double((now - self.lastPaceAt).nanoseconds) / 1e9
        self.lastPaceAt = now
        guard self.isRamping else { return }
        self.allowance = min(self.allowance + self.connectRate * elapsed, max(self.connectRate, 1))
        let pending = self.started - self.everLive
        var budget = min(Int(self.allowance), self.maxPending - pending, self.clients.count - self.started)
        while budget > 0 {
            self.clients[self.started].start()
            self.started += 1
            self.allowance -= 1
            budget -= 1
        }
    }

    private func abandonSlowAttempts() {
        let now = NIODeadline.now().uptimeNanoseconds
        let limit = UInt64(self.settings.attemptTimeout.nanoseconds)
        for client in self.clients where client.phase.isAttempting {
            if now &- client.attemptStartedAt > limit { client.abandonAttempt("not subscribed within \(limit / 1_000_000_000) s") }
        }
    }

    /// The live users' numbers as inclusive ranges (one range when every client got in).
    private func liveUserRanges() -> [[Int]] {
        var ranges: [[Int]] = []
        for client in self.clients where client.phase == .live {
            if let last = ranges.last, last[1] == client.user - 1 {
                ranges[ranges.count - 1][1] = client.user
            } else {
                ranges.append([client.user, client.user])
            }
        }
        return ranges
    }

    private func printReport(withLatency: Bool, audience: [[Int]]? = nil) {
        let report = WorkerReport(worker: self.worker, phase: self.phase, live: self.live,
                                  pending: self.started - self.live, notStarted: self.clients.count - self.started,
                                  everLive: self.everLive, tally: self.tally, latency: withLatency ? self.latency : nil,
                                  audience: audience)
        guard var line = try? JSONEncoder().encode(report) else { return }
        line.append(UInt8(ascii: "\n"))
        // The driver reads every line; once it is gone (a broken pipe), so is the reason to run.
        do { try FileHandle.standardOutput.write(contentsOf: line) } catch { exit(0) }
    }
}
