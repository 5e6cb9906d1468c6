import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Finds and runs `kosoku`, the Autobahn TestSuite runner from PyPI (pinned to 0.1.0 by `.ci/run`).
///
/// Looked up in this order: `$SWITCHBOARD_KOSOKU`, the package's `.venv/bin/kosoku` (what `.ci/run`
/// creates), then `$PATH`. Without it the conformance tests skip, unless `SWITCHBOARD_REQUIRE_CONFORMANCE=1`
/// (set by CI), which turns a missing runner into a failure.
enum Kosoku {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var isRequired: Bool { ProcessInfo.processInfo.environment["SWITCHBOARD_REQUIRE_CONFORMANCE"] == "1" }

    /// Run the tests when the runner is there, or when its absence must fail.
    static var shouldRun: Bool { self.executable != nil || self.isRequired }

    static let missingMessage = """
        kosoku not found (set SWITCHBOARD_KOSOKU, or run .ci/run once to create .venv with kosoku 0.1.0 patched \
        by Tests/Conformance/patch_kosoku.py); Autobahn conformance skipped
        """

    static var executable: URL? {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let explicit = environment["SWITCHBOARD_KOSOKU"], !explicit.isEmpty {
            // An explicit path that is wrong is not silently replaced by another kosoku.
            candidates = [explicit]
        } else {
            candidates.append(self.packageRoot.appendingPathComponent(".venv/bin/kosoku").path)
            for directory in (environment["PATH"] ?? "").split(separator: ":") {
                candidates.append("\(directory)/kosoku")
            }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }.map { URL(fileURLWithPath: $0) }
    }

    /// A fresh report directory under `reports/conformance/` (ignored by git; kept for reading after a failure).
    static func reportDirectory(_ name: String) throws -> URL {
        let directory = self.packageRoot.appendingPathComponent("reports/conformance/\(name)")
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// `-i` arguments from `SWITCHBOARD_CONFORMANCE_CASES` (space-separated ids or globs, e.g. `"1.* 9.1.1"`),
    /// for a quick run while working on one area; empty runs every case (CI sets nothing).
    static var caseSelection: [String] {
        let globs = ProcessInfo.processInfo.environment["SWITCHBOARD_CONFORMANCE_CASES"] ?? ""
        return globs.split(separator: " ").flatMap { ["-i", String($0)] }
    }

    /// Overall bound on one kosoku run, in seconds (`SWITCHBOARD_CONFORMANCE_TIMEOUT`): a hung case fails the
    /// test instead of hanging CI.
    static var timeout: Duration {
        let seconds = ProcessInfo.processInfo.environment["SWITCHBOARD_CONFORMANCE_TIMEOUT"].flatMap { Int($0) } ?? 1500
        return .seconds(seconds)
    }
}

/// A child process whose output goes to a log file (never a pipe nobody drains). Only this object stops it.
final class ChildProcess: @unchecked Sendable {
    private let process = Process()
    private let lock = NSLock()
    let logURL: URL

    init(_ executable: URL, _ arguments: [String], log logURL: URL) throws {
        self.logURL = logURL
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = "1"
        self.process.executableURL = executable
        self.process.arguments = arguments
        self.process.environment = environment
        self.process.standardInput = FileHandle.nullDevice
        self.process.standardOutput = log
        self.process.standardError = log
        try self.process.run()
        try? log.close()
    }

    var isRunning: Bool { self.lock.withLock { self.process.isRunning } }

    var exitStatus: Int32? { self.lock.withLock { self.process.isRunning ? nil : self.process.terminationStatus } }

    var log: String { (try? String(contentsOf: self.logURL, encoding: .utf8)) ?? "" }

    /// The last lines of the log, for a failure message.
    func logTail(_ lines: Int = 30) -> String {
        self.log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Waits for the process to exit by itself; false when `timeout` passed first.
    func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while self.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return true
    }

    /// Waits until the log contains a line matching `pattern` and returns its first capture group.
    func waitForLog(_ pattern: String, timeout: Duration) async throws -> String? {
        let regex = try NSRegularExpression(pattern: pattern)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let text = self.log
            if let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)),
               let range = Range(match.range(at: 1), in: text) {
                return String(text[range])
            }
            if !self.isRunning { return nil }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return nil
    }

    /// SIGTERM, then SIGKILL if it is still there after a few seconds. Idempotent.
    func stop() {
        let pid = self.lock.withLock { self.process.isRunning ? self.process.processIdentifier : 0 }
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        for _ in 0..<50 where self.isRunning { usleep(100_000) }
        if self.isRunning { kill(pid, SIGKILL) }
        self.lock.withLock { self.process.waitUntilExit() }
    }

    deinit { self.stop() }
}
