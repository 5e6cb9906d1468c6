import Foundation
import NIOConcurrencyHelpers
import SwitchboardTestSupport

/// The built `switchboard` executable, run as a child process with pipes on stdin, stdout and stderr.
///
/// `swift build --build-tests` and `swift test` build it beside the test bundle; ``executable()`` finds it
/// there (or at `$SWITCHBOARD_EXECUTABLE`). The process is terminated (by its own pid) when the test is done
/// with it, whatever happened.
final class SwitchboardProcess: Sendable {
    private let process: SpawnedProcess
    private let input: FileHandle
    private let stdoutText = NIOLockedValueBox("")
    private let stderrText = NIOLockedValueBox("")
    private let exit = NIOLockedValueBox<Int32?>(nil)
    /// Pipes read to their end (stdout and stderr: 2 when both are).
    private let drained = NIOLockedValueBox(0)

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        // Only what the test gives: a developer's own SWITCHBOARD_TOKEN must not leak into a test.
        var base = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SWITCHBOARD_") }
        // `serve` and `token` without keys keep a development secret there: never in the real home.
        base["SWITCHBOARD_STATE_DIR"] = FileManager.default.temporaryDirectory
            .appendingPathComponent("switchboard-tests-state-\(ProcessInfo.processInfo.processIdentifier)").path
        base.merge(environment) { $1 }
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        let exit = self.exit
        self.process = try SpawnedProcess(
            try Self.executable().path, arguments, environment: base,
            standardInput: .fileDescriptor(stdin.fileHandleForReading.fileDescriptor),
            standardOutput: .fileDescriptor(stdout.fileHandleForWriting.fileDescriptor),
            standardError: .fileDescriptor(stderr.fileHandleForWriting.fileDescriptor),
            onExit: { status in exit.withLockedValue { $0 = status } })
        // The child has its copies; the readers see end of file only once these are closed too.
        try stdin.fileHandleForReading.close()
        try stdout.fileHandleForWriting.close()
        try stderr.fileHandleForWriting.close()
        self.input = stdin.fileHandleForWriting
        Self.collect(stdout.fileHandleForReading, into: self.stdoutText, drained: self.drained)
        Self.collect(stderr.fileHandleForReading, into: self.stderrText, drained: self.drained)
    }

    /// Reads until end of file on a thread of its own (blocking reads), appending to `text`; counts the end.
    private static func collect(_ handle: FileHandle, into text: NIOLockedValueBox<String>, drained: NIOLockedValueBox<Int>) {
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty {
                    drained.withLockedValue { $0 += 1 }
                    return
                }
                text.withLockedValue { $0 += String(decoding: data, as: UTF8.self) }
            }
        }.start()
    }

    var stdout: String { self.stdoutText.withLockedValue { $0 } }
    var stderr: String { self.stderrText.withLockedValue { $0 } }
    var stdoutLines: [String] { self.stdout.split(separator: "\n").map(String.init) }

    func write(line: String) throws {
        try self.input.write(contentsOf: Data((line + "\n").utf8))
    }

    func closeInput() throws {
        try self.input.close()
    }

    /// Waits for stdout to have `count` lines.
    func waitForStdoutLines(_ count: Int, within timeout: Duration = TestPatience.default) async throws -> [String] {
        try await self.waitFor("\(count) lines on stdout", within: timeout) {
            let lines = self.stdoutLines
            return lines.count >= count ? lines : nil
        }
    }

    /// Waits for `text` to appear on stderr.
    func waitForStderr(containing text: String, within timeout: Duration = TestPatience.default) async throws {
        _ = try await self.waitFor("'\(text)' on stderr", within: timeout) { self.stderr.contains(text) ? true : nil }
    }

    /// Waits for the process to exit and for everything it wrote to be read; returns its status.
    func exitStatus(within timeout: Duration = TestPatience.default) async throws -> Int32 {
        try await self.waitFor("the process to exit and its output to end", within: timeout) {
            self.drained.withLockedValue { $0 } == 2 ? self.exit.withLockedValue { $0 } : nil
        }
    }

    private func waitFor<T>(_ what: String, within timeout: Duration, _ condition: () -> T?) async throws -> T {
        do {
            return try await poll(what, within: timeout, condition)
        } catch let timeout as TestTimeout {
            throw Failure(description: "\(timeout); stdout: \(self.stdout); stderr: \(self.stderr)")
        }
    }

    /// SIGTERM to this process only, if it is still running.
    func terminate() {
        self.process.send(SIGTERM)
    }

    /// Runs `switchboard ARGUMENTS` to the end (stdin closed at once) and returns its status and output.
    static func run(_ arguments: [String], environment: [String: String] = [:],
                    within timeout: Duration = TestPatience.default) async throws -> (status: Int32, stdout: String, stderr: String) {
        let process = try SwitchboardProcess(arguments, environment: environment)
        defer { process.terminate() }
        try process.closeInput()
        let status = try await process.exitStatus(within: timeout)
        return (status, process.stdout, process.stderr)
    }

    /// The `switchboard` executable beside this test bundle (the same build products directory).
    static func executable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["SWITCHBOARD_EXECUTABLE"] { return URL(fileURLWithPath: path) }
        var candidates: [URL] = []
        #if os(Linux)
        // The test runner is an executable in the products directory.
        if let runner = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: runner).deletingLastPathComponent())
        }
        #endif
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        for directory in candidates {
            let executable = directory.appendingPathComponent("switchboard")
            if FileManager.default.isExecutableFile(atPath: executable.path) { return executable }
        }
        throw Failure(description: "no switchboard executable in \(candidates.map(\.path)); run swift build first, or set SWITCHBOARD_EXECUTABLE")
    }
}
