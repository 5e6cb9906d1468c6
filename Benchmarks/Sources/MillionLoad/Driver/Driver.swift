import ArgumentParser
import Foundation

/// The run's view of its workers: their reports added up, and phase changes.
struct Driver {
    let workers: [WorkerProcess]

    /// The latest reports added up.
    func view() -> ClusterView {
        ClusterView(self.workers.map(\.latest))
    }

    /// The final reports of a phase added up (latency included).
    func finished(_ phase: String) -> ClusterView {
        ClusterView(self.workers.map { $0.finished(phase) })
    }

    /// Ends phase `ending` (each worker prints its final report of it) and starts `phase`.
    func startPhase(_ phase: String, ending: String) async throws {
        for worker in self.workers { worker.send("phase \(phase)") }
        try await self.waitUntil(timeout: 60, every: 0, describe: { _ in "waiting for the reports of phase \(ending)" }) { _ in
            self.workers.allSatisfy { $0.finished(ending) != nil }
        }
    }

    /// The users live now, from every worker: whom personal notifications can reach.
    func liveUsers() async throws -> [ClosedRange<Int>] {
        for worker in self.workers { worker.send("audience") }
        let deadline = Date().addingTimeInterval(30)
        while self.workers.contains(where: { $0.audience == nil }) {
            guard Date() < deadline else { throw ValidationError("a worker did not say which users are live within 30 s") }
            try await Task.sleep(for: .milliseconds(100))
        }
        return self.workers.flatMap { $0.audience ?? [] }
    }

    /// Waits until the phase has delivered what was published in it (or a minute has passed: then the
    /// table shows what is missing).
    func settle(personal: Int, broadcast: Int) async throws {
        try await self.waitUntil(timeout: 60, every: 10, expectTimeout: true, describe: { view in
            "settling: \(view.tally.personal.deliveries) of \(personal) personal, \(view.tally.broadcast.deliveries) of \(broadcast) broadcast deliveries"
        }) { view in
            view.tally.personal.deliveries >= UInt64(personal) && view.tally.broadcast.deliveries >= UInt64(broadcast)
        }
    }

    /// Polls the workers every 100 ms until `condition` holds; logs `describe` every `every` seconds (0:
    /// never). Past `timeout`, returns if `expectTimeout`, else throws.
    func waitUntil(timeout: Double, every: Double, expectTimeout: Bool = false, describe: (ClusterView) -> String,
                   _ condition: (ClusterView) -> Bool) async throws {
        let start = Date()
        var lastLog = start
        while true {
            let view = self.view()
            if condition(view) { return }
            if let gone = self.workers.first(where: \.hasExited) {
                throw ValidationError("worker \(gone.index) exited: \(describe(view))")
            }
            let now = Date()
            if now.timeIntervalSince(start) >= timeout {
                if expectTimeout { return }
                throw ValidationError("timed out after \(Int(timeout)) s: \(describe(view))")
            }
            if every > 0, now.timeIntervalSince(lastLog) >= every {
                log(describe(view))
                lastLog = now
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
