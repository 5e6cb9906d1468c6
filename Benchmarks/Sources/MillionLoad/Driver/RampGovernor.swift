import Foundation

/// What the machine did since the last look: its idle CPU share, and the kernel's TCP counters that tell
/// why connects stall or connections reset.
final class MachineWatch {
    private var lastTicks = SystemSample.cpuTicks()
    private var lastCounters = SystemSample.tcpCounters()

    /// The idle share of the interval since the last call, and the counters that moved in it.
    func step() -> (idle: Double, moved: [String]) {
        let ticks = SystemSample.cpuTicks(), counters = SystemSample.tcpCounters()
        let busy = ticks.busy - self.lastTicks.busy, idleTicks = ticks.idle - self.lastTicks.idle
        let idle = busy + idleTicks > 0 ? Double(idleTicks) / Double(busy + idleTicks) : 1
        let moved = ["ListenOverflows", "ListenDrops", "TCPTimeouts", "RetransSegs", "EstabResets", "TCPAbortOnMemory"].compactMap { name -> String? in
            let delta = (counters[name] ?? 0) - (self.lastCounters[name] ?? 0)
            return delta > 0 ? "\(name) +\(delta)" : nil
        }
        self.lastTicks = ticks
        self.lastCounters = counters
        return (idle, moved)
    }

    /// The interval since the last call, in words.
    func describe() -> String {
        let (idle, moved) = self.step()
        return Self.words(idle: idle, moved: moved)
    }

    static func words(idle: Double, moved: [String]) -> String {
        "idle CPU \(Int(idle * 100)) %" + (moved.isEmpty ? "" : "; " + moved.joined(separator: ", "))
    }
}

/// Paces the ramp by the machine's idle CPU.
///
/// On one host the nodes, Redis and the load generator share the cores, and every user already connected
/// costs heartbeats. A ramp at a fixed rate runs into a machine with no idle CPU near the top: pongs come late,
/// users are dropped, and their reconnects cost more than the heartbeats did. So while the machine's idle
/// share is under `idleFloor` the connect rate halves; over one and a half times that it grows by a quarter,
/// and in between by a 64th of the rate asked for, so it keeps probing for the CPU that is left (held in
/// between, the rate stayed at 66–87/s for the last half hour of the eighth million run's ramp).
final class RampGovernor {
    let fullRate: Double
    let idleFloor: Double
    private(set) var rate: Double
    private let watch = MachineWatch()

    init(fullRate: Double, idleFloor: Double) {
        self.fullRate = fullRate
        self.idleFloor = idleFloor
        self.rate = fullRate
    }

    /// Looks at the interval since the last step, adjusts the rate (sending it to `workers` when it changed)
    /// and describes the interval.
    func step(workers: [WorkerProcess]) -> String {
        let (idle, moved) = self.watch.step()
        let previous = self.rate
        if idle < self.idleFloor {
            self.rate = max(self.rate / 2, self.fullRate / 64)
        } else if idle > 1.5 * self.idleFloor {
            self.rate = min(self.rate * 1.25, self.fullRate)
        } else {
            self.rate = min(self.rate + self.fullRate / 64, self.fullRate)
        }
        if self.rate != previous {
            let perWorker = self.rate / Double(max(workers.count, 1))
            for worker in workers { worker.send("rate \(perWorker)") }
        }
        return MachineWatch.words(idle: idle, moved: moved) + ", rate \(Int(self.rate))/s"
    }
}
