import Foundation

/// Memory figures from /proc: processes' resident sets and the kernel's share of the sockets.
struct SystemSample {
    /// /proc/meminfo, in kB.
    var memAvailableKB = 0
    var slabKB = 0
    /// /proc/net/sockstat: TCP sockets in use, and the pages their buffers hold.
    var tcpInUse = 0
    var tcpMemoryPages = 0
    var socketsUsed = 0

    static func now() -> SystemSample {
        var sample = SystemSample()
        let meminfo = Self.read("/proc/meminfo")
        sample.memAvailableKB = Self.field("MemAvailable:", in: meminfo) ?? 0
        sample.slabKB = Self.field("Slab:", in: meminfo) ?? 0
        for line in Self.read("/proc/net/sockstat").split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.first == "sockets:" { sample.socketsUsed = Self.value(after: "used", in: words) ?? 0 }
            if words.first == "TCP:" {
                sample.tcpInUse = Self.value(after: "inuse", in: words) ?? 0
                sample.tcpMemoryPages = Self.value(after: "mem", in: words) ?? 0
            }
        }
        return sample
    }

    /// The machine's CPU time so far, all cores together (/proc/stat, in clock ticks): busy and idle.
    static func cpuTicks() -> (busy: Int, idle: Int) {
        guard let line = Self.read("/proc/stat").split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return (0, 0) }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard ticks.count >= 5 else { return (0, 0) }
        // user nice system idle iowait irq softirq steal; guest time is already in user.
        let idle = ticks[3] + ticks[4]
        return (ticks.prefix(8).reduce(0, +) - idle, idle)
    }

    /// The kernel's TCP counters that tell why connects stall: a full accept queue drops SYNs
    /// (ListenOverflows, ListenDrops), and a dropped SYN is retransmitted after 1, 2, 4, 8… seconds.
    static func tcpCounters() -> [String: Int] {
        var counters: [String: Int] = [:]
        for path in ["/proc/net/netstat", "/proc/net/snmp"] {
            let lines = Self.read(path).split(separator: "\n")
            // Pairs of lines: names, then values, each starting with the same prefix ("TcpExt:", "Tcp:").
            for (names, values) in zip(lines, lines.dropFirst()) where names.split(separator: " ").first == values.split(separator: " ").first {
                let prefix = names.split(separator: " ").first ?? ""
                guard prefix == "TcpExt:" || prefix == "Tcp:" else { continue }
                for (name, value) in zip(names.split(separator: " ").dropFirst(), values.split(separator: " ").dropFirst()) {
                    if let number = Int(value) { counters[String(name)] = number }
                }
            }
        }
        return counters
    }

    /// A process's resident set in bytes (0 once it is gone).
    static func residentBytes(of pid: Int32) -> Int {
        (Self.field("VmRSS:", in: Self.read("/proc/\(pid)/status")) ?? 0) * 1024
    }

    /// The resident pages a process wrote itself (heap, stacks), without the file pages it maps.
    static func anonymousBytes(of pid: Int32) -> Int {
        (Self.field("RssAnon:", in: Self.read("/proc/\(pid)/status")) ?? 0) * 1024
    }

    /// CPU seconds a process has used (user and system), from /proc/<pid>/stat; 0 once it is gone.
    static func cpuSeconds(of pid: Int32) -> Double {
        let stat = Self.read("/proc/\(pid)/stat")
        // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // utime and stime are fields 14 and 15, the 12th and 13th after the name.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The TCP sockets a process holds open: what a node really has, whatever its clients think.
    static func sockets(of pid: Int32) -> Int {
        let directory = "/proc/\(pid)/fd"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var count = 0
        for entry in entries {
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + entry), target.hasPrefix("socket:") {
                count += 1
            }
        }
        return count
    }

    private static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    private static func field(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        }
        return nil
    }

    private static func value(after key: Substring, in words: [Substring]) -> Int? {
        guard let index = words.firstIndex(of: key), index + 1 < words.count else { return nil }
        return Int(words[index + 1])
    }
}
