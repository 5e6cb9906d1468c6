import Foundation
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, without Foundation's `Process`.
///
/// Foundation's `Process.run()` on Linux (swift-corelibs-foundation before PR #5472, Swift 6.3 included) lists
/// `/proc/self/fd` by copying each `dirent`'s whole 256-byte `d_name`, which reads past glibc's buffer and
/// crashes the test process with SIGSEGV when a record ends near an unmapped page: a test bundle with over a
/// thousand descriptors open hit it once in every few CI runs. This spawner closes the inherited descriptors
/// with `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34) instead, and reaps the child on a thread of
/// its own.
public final class SpawnedProcess: Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        case null
        /// A descriptor of this process, duplicated onto the stream; the caller still owns it.
        case fileDescriptor(Int32)
    }

    public struct SpawnError: Error, CustomStringConvertible {
        public let executable: String
        public let errno: Int32
        public var description: String { "cannot start \(self.executable): \(String(cString: strerror(self.errno)))" }
    }

    public let processIdentifier: pid_t
    /// The exit code, or the number of the signal that ended it (as Foundation's `terminationStatus`).
    private let status = NIOLockedValueBox<Int32?>(nil)
    private let exited = ConditionLock(value: false)

    /// Starts `executable` with exactly `environment`; it gets its own process group, so a terminal's ^C
    /// reaches only the test runner, which stops its children itself.
    public init(_ executable: String, _ arguments: [String], environment: [String: String],
                standardInput: Stream = .null, standardOutput: Stream = .null, standardError: Stream = .null,
                onExit: (@Sendable (Int32) -> Void)? = nil) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, stream) in [(STDIN_FILENO, standardInput), (STDOUT_FILENO, standardOutput), (STDERR_FILENO, standardError)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0)
            case .fileDescriptor(let source):
                posix_spawn_file_actions_adddup2(&actions, source, target)
            }
        }
        guard let addCloseFrom = Self.addCloseFrom else { throw SpawnError(executable: executable, errno: ENOSYS) }
        _ = addCloseFrom(&actions, 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var spawned = pid_t()
        let result = posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnError(executable: executable, errno: result) }
        let pid = spawned
        self.processIdentifier = pid

        let status = self.status, exited = self.exited
        Thread {
            // Wait without reaping, then reap under the lock `send` takes: a signal never reaches a recycled pid.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
            let code = status.withLockedValue { status -> Int32 in
                var raw: Int32 = 0
                while waitpid(pid, &raw, 0) == -1 && errno == EINTR {}
                // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
                let signal = raw & 0x7f
                status = signal == 0 ? (raw >> 8) & 0xff : signal
                return status!
            }
            exited.lock()
            exited.unlock(withValue: true)
            onExit?(code)
        }.start()
    }

    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    /// glibc declares it only for _GNU_SOURCE, which Swift's Glibc module does not define.
    private static let addCloseFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np")
        .map { unsafeBitCast($0, to: AddCloseFrom.self) }

    public var isRunning: Bool { self.status.withLockedValue { $0 == nil } }

    /// The exit code or the signal number; nil while it runs.
    public var terminationStatus: Int32? { self.status.withLockedValue { $0 } }

    /// Sends `signal` to the child while it has not been reaped (so never to a recycled pid).
    public func send(_ signal: Int32) {
        self.status.withLockedValue { status in
            if status == nil { _ = Glibc.kill(self.processIdentifier, signal) }
        }
    }

    /// Blocks until the child has exited and been reaped.
    public func waitUntilExit() {
        self.exited.lock(whenValue: true)
        self.exited.unlock()
    }
}
