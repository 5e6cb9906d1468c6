import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A process's CPU time and memory at one moment, from `/proc` (Linux only; elsewhere nothing is sampled).
struct ProcessSample: Sendable {
    /// CPU seconds since the process started, in user space and in the kernel.
    var userSeconds: Double
    var systemSeconds: Double
    var residentBytes: Int
    /// The most the process has been resident (VmHWM).
    var peakResidentBytes: Int
    var threads: Int
    /// The core the process is pinned to (taskset to one core), with that core's times: everything it ran,
    /// not just this process. Loopback TCP input runs there as softirq, which no process is charged for.
    var core: CoreTimes?
    /// Monotonic nanoseconds when sampled.
    var takenAt: UInt64

    /// One core's line of /proc/stat, in clock ticks.
    struct CoreTimes: Sendable {
        var index: Int
        var busy: UInt64
        var total: UInt64
    }

    var cpuSeconds: Double { self.userSeconds + self.systemSeconds }

    /// CPU used between two samples, in percent of one core.
    func cpuPercent(since earlier: ProcessSample) -> Double {
        self.percent(self.cpuSeconds - earlier.cpuSeconds, since: earlier)
    }

    /// The kernel's part of it: on loopback, sending also runs the receiver's TCP input, so a server that
    /// writes to every subscriber spends much of its time here.
    func systemPercent(since earlier: ProcessSample) -> Double {
        self.percent(self.systemSeconds - earlier.systemSeconds, since: earlier)
    }

    /// How busy the pinned core was between two samples, whoever kept it busy (nil when not pinned to one).
    func corePercent(since earlier: ProcessSample) -> Double? {
        guard let core = self.core, let earlierCore = earlier.core, core.index == earlierCore.index,
              core.total > earlierCore.total else { return nil }
        return 100 * Double(core.busy &- earlierCore.busy) / Double(core.total - earlierCore.total)
    }

    private func percent(_ seconds: Double, since earlier: ProcessSample) -> Double {
        let wall = Double(self.takenAt &- earlier.takenAt) / 1e9
        return wall > 0 ? 100 * seconds / wall : 0
    }

    var residentMegabytes: Double { Double(self.residentBytes) / 1_048_576 }
    var peakResidentMegabytes: Double { Double(self.peakResidentBytes) / 1_048_576 }
}

enum ProcessSampler {
    /// TCP payload bytes the sockets on local port `port` have sent (established connections, `bytes_sent` of
    /// `ss -ti`): on the server's port, what its WebSocket frames (headers included) and HTTP answers put
    /// on the wire above TCP. Nil when `ss` cannot be run.
    static func bytesSent(fromPort port: Int) -> UInt64? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ss")
        process.arguments = ["-tinH", "state", "established", "( sport = :\(port) )"]
        let pipe = Pipe()
        process.standardOutput = pipe
        guard (try? process.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        var total: UInt64 = 0
        for field in String(decoding: output, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        where field.hasPrefix("bytes_sent:") {
            total += UInt64(field.dropFirst("bytes_sent:".count)) ?? 0
        }
        return total
    }

    /// `pid` nil samples this process.
    static func sample(pid: Int32?) -> ProcessSample? {
        #if os(Linux)
        let directory = "/proc/\(pid.map { String($0) } ?? "self")"
        guard let stat = try? String(contentsOfFile: "\(directory)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "\(directory)/status", encoding: .utf8),
              // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
              let nameEnd = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
        // Fields 14 and 15 (utime, stime) and 20 (num_threads) of proc(5); `fields[0]` is field 3.
        guard fields.count > 17, let user = Double(fields[11]), let system = Double(fields[12]),
              let threads = Int(fields[17])
        else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ProcessSample(userSeconds: user / ticksPerSecond, systemSeconds: system / ticksPerSecond,
                             residentBytes: Self.kilobytes("VmRSS:", in: status) * 1024,
                             peakResidentBytes: Self.kilobytes("VmHWM:", in: status) * 1024,
                             threads: threads, core: Self.pinnedCore(status: status).flatMap(Self.coreTimes),
                             takenAt: NIODeadline.now().uptimeNanoseconds)
        #else
        return nil
        #endif
    }

    /// The 1-minute load average: on a shared machine, other work on the pinned cores skews the results.
    static func loadAverage() -> String? {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init)
    }

    /// A `Name:   1234 kB` line of /proc/PID/status.
    private static func kilobytes(_ field: String, in status: String) -> Int {
        Int(Self.value(of: field, in: status) ?? "") ?? 0
    }

    /// The one core in `Cpus_allowed_list`, if the process may run on one core only.
    private static func pinnedCore(status: String) -> Int? {
        Self.value(of: "Cpus_allowed_list:", in: status).flatMap { Int($0) }
    }

    /// The first word after `field` on its line of /proc/PID/status.
    private static func value(of field: String, in status: String) -> Substring? {
        for line in status.split(separator: "\n") where line.hasPrefix(field) {
            return line.dropFirst(field.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first
        }
        return nil
    }

    /// `cpuN user nice system idle iowait irq softirq steal …`: busy is everything but idle and iowait.
    private static func coreTimes(_ index: Int) -> ProcessSample.CoreTimes? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        let prefix = "cpu\(index) "
        guard let line = stat.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) else { return nil }
        let ticks = line.dropFirst(prefix.count).split(separator: " ").compactMap { UInt64($0) }
        guard ticks.count >= 5 else { return nil }
        let total = ticks.reduce(0, +)
        return ProcessSample.CoreTimes(index: index, busy: total - ticks[3] - ticks[4], total: total)
    }
}
