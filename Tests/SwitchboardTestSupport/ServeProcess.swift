import Foundation

/// A `switchboard serve` node run as its own process (the built executable), on a port it picks itself, for
/// tests that need several nodes, or a node they can crash.
///
/// The executable is `$SWITCHBOARD_EXECUTABLE`, else `switchboard` beside the running test bundle (SwiftPM
/// puts both in the same build directory).
public final class ServeProcess: Sendable {
    public let port: Int
    public let name: String
    private let process: ChildProcess

    private init(port: Int, name: String, process: ChildProcess) {
        self.port = port
        self.name = name
        self.process = process
    }

    public static var executable: URL? {
        if let explicit = ProcessInfo.processInfo.environment["SWITCHBOARD_EXECUTABLE"], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit)
        }
        let bundle = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidate = bundle.deletingLastPathComponent().appendingPathComponent("switchboard")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }

    /// Starts `switchboard serve` with `arguments` after `serve` (add `--config`, `--broker`…; `--host
    /// 127.0.0.1 --port 0` are added) and `environment` (secrets, keys), and waits for its "serving" line.
    public static func start(name: String, arguments: [String], environment: [String: String], logDirectory: URL) async throws -> ServeProcess {
        guard let executable = Self.executable else {
            throw ServeProcessError("no switchboard executable beside the test bundle (build it, or set SWITCHBOARD_EXECUTABLE)")
        }
        let log = logDirectory.appendingPathComponent("\(name).log")
        // A node without keys keeps its development secret there (unless told otherwise): never in the real home.
        let environment = ["SWITCHBOARD_STATE_DIR": logDirectory.path].merging(environment) { $1 }
        let process = try ChildProcess(executable, ["serve", "--host", "127.0.0.1", "--port", "0"] + arguments,
                                       environment: environment, log: log)
        guard let port = try await process.waitForLog(#"switchboard serving on http://127\.0\.0\.1:(\d+)/"#, timeout: .seconds(30))
            .flatMap(Int.init) else {
            process.kill()
            throw ServeProcessError("\(name) did not start: \(process.logTail())")
        }
        return ServeProcess(port: port, name: name, process: process)
    }

    public var webSocketURL: String { "ws://127.0.0.1:\(self.port)/connection/websocket" }
    public var isRunning: Bool { self.process.isRunning }
    public var processIdentifier: Int32 { self.process.processIdentifier }

    /// The node's log so far (its warnings explain most failures).
    public func logTail(_ lines: Int = 30) -> String { self.process.logTail(lines) }

    /// A crash: SIGKILL; its clients see their connections reset.
    public func kill() { self.process.kill() }

    /// SIGTERM (a drain), then SIGKILL if it lingers.
    public func stop() { self.process.stop() }
}

public struct ServeProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
