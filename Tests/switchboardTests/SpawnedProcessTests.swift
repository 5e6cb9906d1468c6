import Foundation
import SwitchboardTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The spawner every test fixture starts its servers with (Foundation's `Process.run()` crashed a CI run
/// with SIGSEGV while listing `/proc/self/fd` for a test bundle holding 1,361 descriptors).
@Suite struct SpawnedProcessTests {
    /// Runs `/bin/sh -c script` and returns its exit status and what it printed.
    private func shell(_ script: String) async throws -> (status: Int32, output: String) {
        let output = Pipe()
        let child = try SpawnedProcess("/bin/sh", ["-c", script], environment: ["PATH": "/usr/bin:/bin"],
                                       standardOutput: .fileDescriptor(output.fileHandleForWriting.fileDescriptor))
        try output.fileHandleForWriting.close()
        let text = String(decoding: try output.fileHandleForReading.readToEnd() ?? Data(), as: UTF8.self)
        let status = try await poll("the shell to exit") { child.terminationStatus }
        return (status, text)
    }

    /// Opens `count` descriptors on /dev/null (without close-on-exec, as NIO's sockets and Foundation's
    /// pipes are not), runs `body`, closes them.
    private func holding<T>(_ count: Int, _ body: () async throws -> T) async rethrows -> T {
        let descriptors = (0..<count).map { _ in open("/dev/null", O_RDONLY) }
        defer { descriptors.forEach { close($0) } }
        #expect(descriptors.allSatisfy { $0 >= 0 })
        return try await body()
    }

    @Test func aChildInheritsOnlyItsStandardStreams() async throws {
        let (status, output) = try await holding(300) {
            try await shell("ls /proc/$$/fd; true") // `ls` lists the shell's table, not its own
        }
        #expect(status == 0)
        #expect(output.split(whereSeparator: \.isWhitespace) == ["0", "1", "2"],
                "descriptors the child holds: \(output)")
    }

    /// Spawns with every count of open descriptors in a range that moves the last `/proc/self/fd` record
    /// across glibc's buffer: the listing that crashed Foundation is not made at all.
    @Test func spawnsWhateverNumberOfDescriptorsIsOpen() async throws {
        for extra in stride(from: 900, through: 1_500, by: 37) {
            let (status, _) = try await holding(extra) { try await shell("exit 3") }
            #expect(status == 3, "with \(extra) extra descriptors open")
        }
    }

    @Test func reportsTheSignalThatEndedIt() async throws {
        let child = try SpawnedProcess("/bin/sleep", ["600"], environment: [:])
        #expect(child.isRunning)
        child.send(SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationStatus == SIGKILL)
        #expect(!child.isRunning)
        child.send(SIGKILL) // reaped: a no-op, never a signal to whoever has the pid now
    }

    @Test func aMissingExecutableIsAnErrorThatNamesIt() throws {
        #expect(throws: SpawnedProcess.SpawnError.self) {
            try SpawnedProcess("/nonexistent/switchboard", [], environment: [:])
        }
    }
}
