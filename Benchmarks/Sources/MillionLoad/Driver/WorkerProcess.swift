import Foundation
import NIOConcurrencyHelpers

/// A `worker` child process: its commands go to its standard input, its report lines are read from its
/// standard output on a thread of their own.
final class WorkerProcess: Sendable {
    let index: Int
    let clients: Int
    private let process: Process
    private let input: FileHandle
    private struct State {
        var latest: WorkerReport?
        /// The last report with latency per phase (a worker prints one when a phase ends).
        var finished: [String: WorkerReport] = [:]
        var exited = false
        /// The live users, from the last answer to `audience`.
        var audience: [ClosedRange<Int>]?
    }
    private let state = NIOLockedValueBox(State())

    init(index: Int, clients: Int, arguments: [String], environment: [String: String]) throws {
        self.index = index
        self.clients = clients
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        process.arguments = ["worker"] + arguments
        process.environment = environment
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        self.process = process
        self.input = stdin.fileHandleForWriting
        try process.run()
        let reader = stdout.fileHandleForReading
        let state = self.state
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[(newline + 1)...])
                    guard let report = try? JSONDecoder().decode(WorkerReport.self, from: line) else { continue }
                    state.withLockedValue { state in
                        state.latest = report
                        if report.latency != nil { state.finished[report.phase] = report }
                        if let audience = report.audience { state.audience = audience.map { $0[0]...$0[1] } }
                    }
                }
            }
            state.withLockedValue { $0.exited = true }
        }
    }

    var pid: Int32 { self.process.processIdentifier }
    var latest: WorkerReport? { self.state.withLockedValue { $0.latest } }
    var audience: [ClosedRange<Int>]? { self.state.withLockedValue { $0.audience } }
    var hasExited: Bool { self.state.withLockedValue { $0.exited } }
    func finished(_ phase: String) -> WorkerReport? { self.state.withLockedValue { $0.finished[phase] } }

    func send(_ command: String) {
        try? self.input.write(contentsOf: Data((command + "\n").utf8))
    }

    func terminate() {
        if self.process.isRunning { kill(self.pid, SIGKILL) }
    }
}

/// The workers' reports added up.
struct ClusterView {
    var live = 0
    var pending = 0
    var notStarted = 0
    var everLive = 0
    var tally = PhaseTally()
    var latency = PhaseLatency()
    /// Workers that have not reported (yet, or for this phase).
    var silent = 0

    init(_ reports: [WorkerReport?]) {
        for report in reports {
            guard let report else { self.silent += 1; continue }
            self.live += report.live
            self.pending += report.pending
            self.notStarted += report.notStarted
            self.everLive += report.everLive
            self.tally.add(report.tally)
            if let latency = report.latency { self.latency.add(latency) }
        }
    }
}
