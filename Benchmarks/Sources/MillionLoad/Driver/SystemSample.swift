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

    /// A process's resident set in bytes (0 once it is gone).
    static func residentBytes(of pid: Int32) -> Int {
        (Self.field("VmRSS:", in: Self.read("/proc/\(pid)/status")) ?? 0) * 1024
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
