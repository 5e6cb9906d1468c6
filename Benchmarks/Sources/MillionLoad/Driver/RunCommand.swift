import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

/// The run: ramp, hold, one broadcast, a stream of personal notifications, a node killed mid-stream; then
/// the table (see ``RunReport``).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Drive the million-user run against nodes that are already up (Benchmarks/million.sh starts them).")

    @Option(help: "The nodes' WebSocket URL.") var url: String
    @Option(help: "The nodes' HTTP API, host:port.") var api: String
    @Option(help: "An API key the nodes accept.") var apiKey = "bench-key"
    @Option(help: "Clients in all.") var clients = 50_000
    @Option(help: "Worker processes (default: one per 18,000 clients).") var workers: Int?
    @Option(help: "New connections a second, all workers together.") var rate: Double = 2_000
    @Option(help: "Seconds the ramp may take at most (default: four times clients/rate, plus 5 minutes).") var rampTimeout: Double?
    @Option(help: "Connect attempts in progress at most per worker.") var maxPending = 64
    @Option(help: "The ramp halves its rate while the machine's idle CPU is under this share (0 to 1; 0: a fixed rate).") var idleFloor = 0.1
    @Option(help: "Seconds to hold every client connected once the ramp is done.") var hold: Double = 60
    @Option(help: "Personal notifications a second in the notification phase.") var notifyRate: Double = 1_000
    @Option(help: "Seconds of the notification phase.") var notifySeconds: Double = 60
    @Option(help: "Personal notifications a second while a node is killed (a broadcast goes out every second too).") var stormRate: Double = 500
    @Option(help: "Seconds of publishing in the kill phase; the node dies 10 s in.") var stormSeconds: Double = 60
    @Option(help: "Seconds between broadcasts to everyone in the kill phase, the first one this long in (each is one delivery per user).") var stormBroadcastEvery: Double = 1
    @Option(help: "A node to SIGKILL in the kill phase (none: no kill phase).") var killPid: Int32?
    @Option(help: "The nodes' PIDs, comma-separated, for their memory and socket counts.") var nodePids = ""
    @Option(help: "Redis's PID, for its memory.") var redisPid: Int32?
    @Option(help: "Source addresses are <prefix>.X.Y, one per worker.") var sourcePrefix = "127.1"
    @Option(help: "The personal channels' namespace.") var personalNamespace = "user"
    @Option(help: "The channel every client subscribes to.") var broadcastChannel = "news:all"
    @Option(help: "What the workers' clients run on: epoll (Linux) or nio.") var clientTransport = ClientTransport.default

    func run() async throws {
        let workerCount = self.workers ?? max(1, (self.clients + 17_999) / 18_000)
        guard self.clients / workerCount <= 19_000 else { throw ValidationError("at most 19,000 clients per worker (20,000 descriptors a process)") }
        let apiParts = self.api.split(separator: ":")
        guard apiParts.count == 2, let apiPort = Int(apiParts[1]) else { throw ValidationError("--api is host:port") }
        let nodes = self.nodePids.split(separator: ",").compactMap { Int32($0) }
        var report = RunReport(clients: self.clients, workers: workerCount, nodes: nodes.count)
        let before = SystemSample.now()

        // Ramp.
        var spawned: [WorkerProcess] = []
        var first = 0
        for index in 0..<workerCount {
            let count = self.clients / workerCount + (index < self.clients % workerCount ? 1 : 0)
            spawned.append(try WorkerProcess(index: index, clients: count, arguments: [
                "--index", "\(index)", "--url", self.url, "--source", "\(self.sourcePrefix).\(index / 250).\(index % 250 + 1)",
                "--first-user", "\(first)", "--clients", "\(count)", "--rate", "\(self.rate / Double(workerCount))",
                "--max-pending", "\(self.maxPending)", "--personal-namespace", self.personalNamespace, "--broadcast-channel", self.broadcastChannel,
                "--transport", self.clientTransport.rawValue,
            ], environment: ProcessInfo.processInfo.environment))
            first += count
        }
        let workers = spawned
        defer { for worker in workers { worker.terminate() } }
        let driver = Driver(workers: workers)
        let cpuUse = { CPUUse.sample(nodes: nodes, workers: workers, redis: self.redisPid) }
        let rampStart = Date()
        let rampCPU = cpuUse()
        log("ramp: \(self.clients) clients from \(workerCount) workers (\(self.clientTransport.rawValue)) at \(Int(self.rate))/s")
        let governor = RampGovernor(fullRate: self.rate, idleFloor: self.idleFloor)
        // A ramp that stalls (the machine is out of CPU) ends at the timeout; the run goes on with the clients
        // it has, and the table says how many that is.
        try await driver.waitUntil(timeout: self.rampTimeout ?? (Double(self.clients) / self.rate * 4 + 300), every: 10, expectTimeout: true, describe: { view in
            "ramp: \(view.live) live, \(view.pending) connecting, \(view.notStarted) not started, \(view.tally.failedAttempts) failed attempts (\(view.tally.refusedAttempts) refused); "
                + governor.step(workers: workers)
        }) { $0.live >= self.clients }
        report.rampSeconds = Date().timeIntervalSince(rampStart)
        // Clients that never got in stop trying, so the hold is a steady state of those that did.
        for worker in workers { worker.send("freeze") }
        try await Task.sleep(for: .seconds(2))
        report.rampReached = driver.view().live
        report.rampCPUPerConnect = (cpuUse() - rampCPU) / Double(report.rampReached)
        let audience = report.rampReached
        report.rampFailedAttempts = driver.view().tally.failedAttempts
        report.nodeSockets = nodes.map { SystemSample.sockets(of: $0) }
        log("ramp: done in \(Int(report.rampSeconds)) s; the nodes hold \(report.nodeSockets.reduce(0, +)) sockets")

        // Hold.
        try await driver.startPhase("hold", ending: "ramp")
        let holdStart = Date()
        let watch = MachineWatch()
        let holdCPU = cpuUse()
        try await driver.waitUntil(timeout: self.hold, every: 30, expectTimeout: true, describe: { view in
            "hold: \(view.live) live, \(view.tally.drops) drops, \(Int(Date().timeIntervalSince(holdStart))) s of \(Int(self.hold)); "
                + watch.describe()
        }) { _ in false }
        let held = Date().timeIntervalSince(holdStart)
        report.holdCPU = (cpuUse() - holdCPU) / held
        report.memory = MemoryFigures(before: before, after: SystemSample.now(),
                                      nodes: .of(nodes), workers: .of(workers.map(\.pid)), redis: .of(self.redisPid.map { [$0] } ?? []))

        // What was measured so far is printed even if a later phase fails.
        var lastPhase = "hold"
        do {
            // One broadcast to everyone.
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let publisher = NotificationPublisher(users: try await driver.liveUsers(), personalNamespace: self.personalNamespace,
                                                  broadcastChannel: self.broadcastChannel, eventLoop: group.next())
            try await publisher.connect(host: String(apiParts[0]), port: apiPort, apiKey: self.apiKey, connections: 8)
            try await driver.startPhase("broadcast", ending: "hold")
            lastPhase = "broadcast"
            report.sent["broadcast"] = try await publisher.broadcastOnce()
            try await driver.waitUntil(timeout: 120, every: 10, describe: { "broadcast: \($0.tally.broadcast.deliveries) of \(audience) delivered" }) {
                $0.tally.broadcast.deliveries >= UInt64(audience)
            }

            // Personal notifications at a steady rate.
            try await driver.startPhase("notify", ending: "broadcast")
            lastPhase = "notify"
            log("notify: \(Int(self.notifyRate))/s for \(Int(self.notifySeconds)) s")
            let notifyCPU = cpuUse(), notifyStart = Date()
            let notified = try await publisher.run(rate: self.notifyRate, seconds: self.notifySeconds)
            report.notifyCPU = (cpuUse() - notifyCPU) / Date().timeIntervalSince(notifyStart)
            report.sent["notify"] = notified
            try await driver.settle(personal: notified.personalAcknowledged, broadcast: 0)

            // A node killed mid-stream.
            if let killPid = self.killPid {
                try await driver.startPhase("kill", ending: "notify")
                lastPhase = "kill"
                log("kill: \(Int(self.stormRate))/s and a broadcast every \(self.stormBroadcastEvery) s for \(Int(self.stormSeconds)) s; node \(killPid) is killed 10 s in")
                // The broadcasts begin one period in: after the kill at 10 s when the period is longer, so the dropped
                // users have broadcasts to recover as well as personal notifications.
                async let streamed = publisher.run(rate: self.stormRate, seconds: self.stormSeconds, broadcastEvery: self.stormBroadcastEvery,
                                                   firstBroadcast: self.stormBroadcastEvery)
                try await Task.sleep(for: .seconds(10))
                kill(killPid, SIGKILL)
                let killedAt = Date()
                try await driver.waitUntil(timeout: 300, every: 5, expectTimeout: true, describe: { view in
                    "kill: \(view.tally.drops) dropped\(RunReport.causes(view.tally)), \(view.live) live, \(view.pending) reconnecting, \(view.tally.failedAttempts) failed attempts (\(view.tally.refusedAttempts) refused by admission control), \(view.tally.subscribeRetries) subscribes retried"
                }) {
                    $0.tally.drops > 0 && $0.live >= audience
                }
                if driver.view().live >= audience { report.stormSeconds = Date().timeIntervalSince(killedAt) }
                report.nodeSocketsAfterKill = nodes.map { SystemSample.sockets(of: $0) }
                let streamedCounts = try await streamed
                report.sent["kill"] = streamedCounts
                try await driver.settle(personal: streamedCounts.personalAcknowledged,
                                        broadcast: streamedCounts.broadcastAcknowledged * audience)
            }
        } catch {
            log("the run stopped after phase \(lastPhase): \(error)")
            report.failure = "stopped after phase \(lastPhase): \(error)"
        }
        try? await driver.startPhase("end", ending: lastPhase)
        for phase in ["ramp", "hold", "broadcast", "notify", "kill"] { report.phases[phase] = driver.finished(phase) }
        for worker in workers { worker.send("stop") }
        print(report.markdown())
    }
}

func log(_ line: String) {
    try? FileHandle.standardError.write(contentsOf: Data("million: \(line)\n".utf8))
}
