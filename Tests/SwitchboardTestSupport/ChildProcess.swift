import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process whose output goes to a log file (never a pipe nobody drains). Only this object stops it.
public final class ChildProcess: @unchecked Sendable {
    private let process: SpawnedProcess
    public let logURL: URL

    /// `environment` is added to (and overrides) this process's own.
    public init(_ executable: URL, _ arguments: [String], environment extra: [String: String] = [:], log logURL: URL) throws {
        self.logURL = logURL
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        defer { try? log.close() }
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONUNBUFFERED"] = "1"
        environment.merge(extra) { _, new in new }
        self.process = try SpawnedProcess(executable.path, arguments, environment: environment,
                                          standardOutput: .fileDescriptor(log.fileDescriptor),
                                          standardError: .fileDescriptor(log.fileDescriptor))
    }

    public var isRunning: Bool { self.process.isRunning }

    public var exitStatus: Int32? { self.process.terminationStatus }

    public var log: String { (try? String(contentsOf: self.logURL, encoding: .utf8)) ?? "" }

    /// The last lines of the log, for a failure message.
    public func logTail(_ lines: Int = 30) -> String {
        self.log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    /// Waits for the process to exit by itself; false when `timeout` passed first.
    public func waitForExit(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while self.isRunning {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return true
    }

    /// Waits until the log contains a line matching `pattern` and returns its first capture group.
    public func waitForLog(_ pattern: String, timeout: Duration) async throws -> String? {
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
    public func stop() {
        guard self.isRunning else { return }
        self.process.send(SIGTERM)
        for _ in 0..<50 where self.isRunning { usleep(100_000) }
        self.process.send(SIGKILL)
        self.process.waitUntilExit()
    }

    /// SIGKILL at once (a crash, as far as its peers can tell), and waits until it is gone. Idempotent.
    public func kill() {
        self.process.send(SIGKILL)
        self.process.waitUntilExit()
    }

    public var processIdentifier: Int32 { self.process.processIdentifier }

    deinit { self.stop() }
}
