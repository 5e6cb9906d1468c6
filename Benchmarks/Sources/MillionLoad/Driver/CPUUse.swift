/// CPU seconds (user and system) used by the run's three parts; what a phase cost is the difference of
/// a sample at its end and one at its start.
struct CPUUse {
    var nodes = 0.0
    var workers = 0.0
    var redis = 0.0

    /// What the processes have used so far (a process that is gone counts 0).
    static func sample(nodes: [Int32], workers: [WorkerProcess], redis: Int32?) -> Self {
        Self(nodes: nodes.map(SystemSample.cpuSeconds(of:)).reduce(0, +),
             workers: workers.map { SystemSample.cpuSeconds(of: $0.pid) }.reduce(0, +),
             redis: redis.map(SystemSample.cpuSeconds(of:)) ?? 0)
    }

    static func - (end: Self, start: Self) -> Self {
        Self(nodes: end.nodes - start.nodes, workers: end.workers - start.workers, redis: end.redis - start.redis)
    }

    /// Per second of a phase (cores in use) or per unit of work (seconds per connect).
    static func / (use: Self, divisor: Double) -> Self {
        let divisor = max(divisor, .leastNonzeroMagnitude)
        return Self(nodes: use.nodes / divisor, workers: use.workers / divisor, redis: use.redis / divisor)
    }
}
