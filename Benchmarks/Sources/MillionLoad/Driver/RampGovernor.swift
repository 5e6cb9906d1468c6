import Foundation

/// Paces the ramp by the machine's idle CPU, and says what the kernel saw meanwhile.
///
/// On one host the nodes, Redis and the load generator share the cores, and every user already connected
/// costs heartbeats. A ramp at a fixed rate runs into a machine with no idle CPU near the top: pongs come late,
/// users are dropped, and their reconnects cost more than the heartbeats did. So while the machine's idle
/// share is under `idleFloor` the connect rate halves, and it grows back by a quarter while it is over twice
/// that, up to the rate asked for.
final class RampGovernor {
    let fullRate: Double
    let idleFloor: Double
    private(set) var rate: Double
    private var lastTicks = SystemSample.cpuTicks()
    private var lastCounters = SystemSample.tcpCounters()

    init(fullRate: Double, idleFloor: Double) {
        self.fullRate = fullRate
        self.idleFloor = idleFloor
        self.rate = fullRate
    }

    /// Looks at the interval since the last step, adjusts the rate (sending it to `workers` when it changed)
    /// and describes the interval: idle CPU, the rate, and the TCP counters that moved.
    func step(workers: [WorkerProcess]) -> String {
        let ticks = SystemSample.cpuTicks(), counters = SystemSample.tcpCounters()
        let busy = ticks.busy - self.lastTicks.busy, idleTicks = ticks.idle - self.lastTicks.idle
        let idle = busy + idleTicks > 0 ? Double(idleTicks) / Double(busy + idleTicks) : 1
        let previous = self.rate
        if idle < self.idleFloor {
            self.rate = max(self.rate / 2, self.fullRate / 64)
        } else if idle > 2 * self.idleFloor {
            self.rate = min(self.rate * 1.25, self.fullRate)
        }
        if self.rate != previous {
            let perWorker = self.rate / Double(max(workers.count, 1))
            for worker in workers { worker.send("rate \(perWorker)") }
        }
        let moved = ["ListenOverflows", "ListenDrops", "TCPTimeouts", "RetransSegs", "EstabResets", "TCPAbortOnMemory"].compactMap { name -> String? in
            let delta = (counters[name] ?? 0) - (self.lastCounters[name] ?? 0)
            return delta > 0 ? "\(name) +\(delta)" : nil
        }
        self.lastTicks = ticks
        self.lastCounters = counters
        return "idle CPU \(Int(idle * 100)) %, rate \(Int(self.rate))/s" + (moved.isEmpty ? "" : "; " + moved.joined(separator: ", "))
    }
}
