import Foundation

/// An nginx of the test's own: a prefix directory in a temporary directory, a free loopback port, in the
/// foreground (`daemon off`) so it is stopped by its PID like any child.
///
/// The caller writes the site (what a deployment puts in `/etc/nginx/conf.d/`: `map`, `upstream`,
/// `server`); this wraps it in a main configuration that keeps every file nginx writes (pid, logs,
/// temporary bodies) inside the prefix, since the packaged defaults point at `/var` and `/run`.
public final class NginxProcess: Sendable {
    public static let tool = ExternalTool(
        name: "nginx", pathVariable: "SWITCHBOARD_NGINX", requiredVariable: "SWITCHBOARD_REQUIRE_NGINX",
        preferredPaths: ["/usr/sbin/nginx"],
        missingMessage: "nginx not found (apt-get install nginx-light, or set SWITCHBOARD_NGINX); nginx tests skipped")

    public let port: Int
    public let directory: URL
    private let process: ChildProcess

    private init(port: Int, directory: URL, process: ChildProcess) {
        self.port = port
        self.directory = directory
        self.process = process
    }

    /// Starts nginx with the site `site(port)` returns, listening on a free port (retried with another
    /// port when one was taken in the meantime).
    public static func start(site: (_ port: Int) -> String) async throws -> NginxProcess {
        guard let executable = Self.tool.executable else { throw NginxProcessError(Self.tool.missingMessage) }
        var lastError = ""
        for _ in 0..<5 {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-nginx-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let port = try LoopbackPort.free()
            try site(port).write(to: directory.appendingPathComponent("site.conf"), atomically: true, encoding: .utf8)
            try Self.mainConfiguration(directory).write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
            let process = try ChildProcess(executable, ["-p", directory.path, "-c", directory.appendingPathComponent("nginx.conf").path,
                                                        "-g", "daemon off; pid \(directory.path)/nginx.pid; error_log \(directory.path)/error.log info;"],
                                           log: directory.appendingPathComponent("nginx.out"))
            let deadline = ContinuousClock.now + TestPatience.default
            while ContinuousClock.now < deadline, process.isRunning, !LoopbackPort.isAccepting(port) {
                try await Task.sleep(for: .milliseconds(50))
            }
            if process.isRunning, LoopbackPort.isAccepting(port) { return NginxProcess(port: port, directory: directory, process: process) }
            process.stop()
            lastError = process.logTail(10) + ((try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? "")
        }
        throw NginxProcessError("nginx did not start: \(lastError)")
    }

    /// Everything nginx writes goes into the prefix; `include` is relative to it.
    private static func mainConfiguration(_ directory: URL) -> String {
        let path = directory.path
        return """
            worker_processes 1;
            events { worker_connections 4096; }
            http {
                access_log \(path)/access.log;
                client_body_temp_path \(path)/client_body;
                proxy_temp_path \(path)/proxy;
                fastcgi_temp_path \(path)/fastcgi;
                uwsgi_temp_path \(path)/uwsgi;
                scgi_temp_path \(path)/scgi;
                include \(path)/site.conf;
            }

            """
    }

    /// nginx's error log (upstream failures are logged there).
    public var errorLog: String { (try? String(contentsOf: self.directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? "" }

    public func stop() { self.process.stop() }

    deinit {
        self.process.stop()
        try? FileManager.default.removeItem(at: self.directory)
    }
}

public struct NginxProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
