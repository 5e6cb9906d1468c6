import Foundation
import Histogram

/// Memory at the end of the hold, against a sample taken before the ramp.
struct MemoryFigures {
    var before: SystemSample
    var after: SystemSample
    var nodes: ProcessMemory
    var workers: ProcessMemory
    var redis: ProcessMemory
}

/// Processes' memory: what they wrote (heap, stacks) and their whole RSS, which also counts the pages of the
/// binary's code each maps. Those are the same pages in every process of one binary (about 31 MiB for
/// `switchboard`), so 56 nodes' RSS counts them 56 times; what each connection costs is in the first.
struct ProcessMemory {
    var anonymous = 0
    var resident = 0

    static func of(_ pids: [Int32]) -> Self {
        pids.reduce(into: Self()) { total, pid in
            total.anonymous += SystemSample.anonymousBytes(of: pid)
            total.resident += SystemSample.residentBytes(of: pid)
        }
    }
}

/// The figures of a run, printed as the table the README and docs/SCALING.md quote.
struct RunReport {
    let clients: Int
    let workers: Int
    let nodes: Int
    var rampSeconds = 0.0
    var rampFailedAttempts = 0
    var rampReached = 0
    var nodeSockets: [Int] = []
    var nodeSocketsAfterKill: [Int] = []
    var memory: MemoryFigures?
    /// CPU seconds per client connected in the ramp: the cost of a connect and its subscribes (with the
    /// heartbeats of the clients already in, which a short ramp makes small).
    var rampCPUPerConnect: CPUUse?
    /// Cores in use on average during the hold (heartbeats and nothing else).
    var holdCPU: CPUUse?
    /// Cores in use on average while personal notifications were published.
    var notifyCPU: CPUUse?
    var stormSeconds: Double?
    var sent: [String: PublishCounts] = [:]
    var phases: [String: ClusterView] = [:]
    var failure: String?

    func markdown() -> String {
        var rows: [(String, String)] = []
        let reached = self.rampReached >= self.clients ? "\(self.clients.grouped) clients" : "\(self.rampReached.grouped) of \(self.clients.grouped) clients (the ramp stalled)"
        rows.append(("ramp", "\(reached) connected and subscribed (2 channels each) in \(Self.fixed(self.rampSeconds, 0)) s: \(Int(Double(self.rampReached) / max(self.rampSeconds, 0.001)).grouped) connects/s, \(self.rampFailedAttempts.grouped) failed attempts retried"))
        if let cpu = self.rampCPUPerConnect {
            rows.append(("CPU per connect", "nodes \(Self.fixed(cpu.nodes * 1000, 2)) ms, load generator \(Self.fixed(cpu.workers * 1000, 2)) ms, Redis \(Self.fixed(cpu.redis * 1000, 3)) ms (CPU time used in the ramp per client connected and subscribed)"))
        }
        let sockets = self.nodeSockets.reduce(0, +)
        rows.append(("counted by the nodes", "\(sockets.grouped) TCP sockets held by \(self.nodeSockets.count) node processes (clients, plus each node's listener and Redis connections); busiest \((self.nodeSockets.max() ?? 0).grouped), least busy \((self.nodeSockets.min() ?? 0).grouped)"))
        if let hold = self.phases["hold"] {
            rows.append(("hold", "\(hold.tally.drops) unintended drops\(Self.causes(hold.tally)), \(hold.tally.serverEnded) server disconnects, \(hold.tally.unexpected) unexpected messages; \(hold.live.grouped) live at the end"))
            if let cpu = self.holdCPU {
                rows.append(("CPU while holding", "nodes \(Self.fixed(cpu.nodes * 100, 0)) % of a core (\(Self.fixed(cpu.nodes * 100 / Double(max(self.rampReached, 1)) * 10_000, 2)) % per 10,000 connections: heartbeats), load generator \(Self.fixed(cpu.workers * 100, 0)) %, Redis \(Self.fixed(cpu.redis * 100, 1)) %"))
            }
        }
        if let broadcast = self.phases["broadcast"] {
            let latency = broadcast.latency.broadcast.histogram
            rows.append(("one broadcast to all", "50 %: \(Self.ms(latency.valueAtPercentile(50))), 99 %: \(Self.ms(latency.valueAtPercentile(99))), 100 %: \(Self.ms(latency.max)) (\(broadcast.tally.broadcast.deliveries.grouped) deliveries)" + self.faults("broadcast", broadcast)))
        }
        if let notify = self.phases["notify"], let sent = self.sent["notify"] {
            let latency = notify.latency.personal.histogram
            rows.append(("personal notifications", "\(sent.personalAcknowledged.grouped) published (\(sent.failed) failed, \(sent.skipped) not sent: nodes behind, \(sent.unanswered) unanswered); delivery p50 \(Self.ms(latency.valueAtPercentile(50))), p99 \(Self.ms(latency.valueAtPercentile(99))), max \(Self.ms(latency.max))" + self.faults("notify", notify)))
            if let cpu = self.notifyCPU {
                rows.append(("CPU while notifying", "nodes \(Self.fixed(cpu.nodes * 100, 0)) % of a core (heartbeats included), Redis \(Self.fixed(cpu.redis * 100, 0)) %"))
            }
        }
        if let kill = self.phases["kill"], let sent = self.sent["kill"] {
            let personal = kill.latency.personal.histogram
            let others = kill.latency.personalUndisturbed.histogram
            let storm = self.stormSeconds.map { "all \(kill.tally.drops.grouped) dropped clients\(Self.causes(kill.tally)) subscribed again \(Self.fixed($0, 1)) s after the kill (\(kill.tally.failedAttempts.grouped) failed attempts, \(kill.tally.refusedAttempts.grouped) of them refused by admission control)" }
                ?? "\(kill.tally.drops.grouped) clients dropped\(Self.causes(kill.tally)), \((self.rampReached - kill.live).grouped) not back after 5 minutes (\(kill.tally.failedAttempts.grouped) failed attempts, \(kill.tally.refusedAttempts.grouped) of them refused by admission control)"
            let survivors = self.nodeSocketsAfterKill.filter { $0 > 0 }
            rows.append(("after the kill", "the \(survivors.count) other nodes hold \(survivors.reduce(0, +).grouped) sockets, busiest \((survivors.max() ?? 0).grouped), least busy \((survivors.min() ?? 0).grouped)"))
            rows.append(("one node SIGKILLed", "\(storm); \(kill.tally.recovered.grouped) streams recovered, \(kill.tally.notRecovered) not; \(sent.personalAcknowledged.grouped) personal and \(sent.broadcastAcknowledged) broadcast publications meanwhile (\(sent.failed) failed with their node, \(sent.skipped) not sent, \(sent.unanswered) unanswered), personal p50 \(Self.ms(personal.valueAtPercentile(50))), p99 \(Self.ms(personal.valueAtPercentile(99))) (to the users of the other nodes: p50 \(Self.ms(others.valueAtPercentile(50))), p99 \(Self.ms(others.valueAtPercentile(99))))" + self.faults("kill", kill)))
        }
        if let memory = self.memory {
            let perClient = { (bytes: Int) in "\(Self.fixed(Double(bytes) / Double(max(self.rampReached, 1)), 0)) B per connection" }
            let describe = { (memory: ProcessMemory) in
                "\(Self.mib(memory.anonymous)) written (heap, stacks) in all: \(perClient(memory.anonymous)); RSS \(Self.mib(memory.resident)) with the shared code pages"
            }
            rows.append(("nodes' memory", describe(memory.nodes)))
            rows.append(("load generator's memory", describe(memory.workers)))
            rows.append(("Redis's memory", describe(memory.redis)))
            let slab = (memory.after.slabKB - memory.before.slabKB) * 1024
            let available = (memory.before.memAvailableKB - memory.after.memAvailableKB) * 1024
            rows.append(("kernel", "slab +\(Self.mib(slab)) (\(perClient(slab)), both ends of each connection); TCP sockets in use \(memory.after.tcpInUse.grouped), their buffers \(memory.after.tcpMemoryPages.grouped) pages"))
            rows.append(("machine", "MemAvailable fell by \(Self.mib(available)) (\(perClient(available)), everything together)"))
        }
        var text = "| \(self.clients.grouped) clients, \(self.nodes) nodes, \(self.workers) load-generator processes | |\n|---|---|\n"
        for (name, value) in rows { text += "| \(name) | \(value) |\n" }
        if let failure = self.failure { text += "\nThe run \(failure)\n" }
        for (phase, view) in self.phases.sorted(by: { $0.key < $1.key }) where !view.tally.samples.isEmpty {
            text += "\n\(phase): " + view.tally.samples.joined(separator: "; ")
        }
        return text
    }

    /// Missing publications (expected but never delivered, or skipped over), duplicates and epoch changes.
    private func faults(_ phase: String, _ view: ClusterView) -> String {
        let sent = self.sent[phase] ?? PublishCounts()
        let expectedPersonal = UInt64(sent.personalAcknowledged)
        let expectedBroadcast = UInt64(sent.broadcastAcknowledged * self.rampReached)
        let undelivered = (expectedPersonal > view.tally.personal.deliveries ? expectedPersonal - view.tally.personal.deliveries : 0)
            + (expectedBroadcast > view.tally.broadcast.deliveries ? expectedBroadcast - view.tally.broadcast.deliveries : 0)
        let missing = undelivered + view.tally.personal.missing + view.tally.broadcast.missing
        let duplicates = view.tally.personal.duplicates + view.tally.broadcast.duplicates
        let epochs = view.tally.personal.epochChanges + view.tally.broadcast.epochChanges
        return "; \(missing) missing, \(duplicates) duplicates, \(epochs) epoch changes"
    }

    /// How the drops ended, most common first: " (1006 by the node: 17,900; …)", or nothing without drops.
    static func causes(_ tally: PhaseTally) -> String {
        guard !tally.dropCauses.isEmpty else { return "" }
        return " (" + tally.dropCauses.sorted { $0.value > $1.value }.map { "\($0.key): \($0.value.grouped)" }.joined(separator: "; ") + ")"
    }

    static func ms(_ micros: UInt64) -> String { "\(fixed(Double(micros) / 1000, 1)) ms" }
    static func mib(_ bytes: Int) -> String { "\(fixed(Double(bytes) / 1_048_576, 0)) MiB" }
    static func fixed(_ value: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", value) }
}

extension BinaryInteger {
    /// 1,000,000 rather than 1000000.
    var grouped: String {
        let digits = String(self.magnitude)
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (self < 0 ? "-" : "") + out
    }
}
