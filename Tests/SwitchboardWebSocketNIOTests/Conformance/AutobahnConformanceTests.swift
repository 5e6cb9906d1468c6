import Foundation
import NIOCore
import NIOPosix
import Testing
import SwitchboardTestSupport
import SwitchboardWebSocket
@testable import SwitchboardWebSocketNIO
@testable import AutobahnClient

/// The Autobahn TestSuite (1.* framing … 13.* deflate parameters, via `kosoku`) against our server and our
/// client. Every case must be OK or INFORMATIONAL, exchange and close; anything else fails the test with the
/// list of cases.
///
/// Both ends run in-process with the code of the executables: the server is a `WebSocketServer` with the
/// ``WebSocketEchoHandler`` and 16 MiB limits, as `switchboard echo` serves; the client is the
/// `autobahn-client` example's ``AutobahnRunner``. Nothing to build or locate beyond the test bundle, and the
/// server binds port 0 itself (no port race).
/// Reports stay in `reports/conformance/{server,client}/` (index.json plus kosoku's HTML).
@Suite(.serialized, .enabled(if: Kosoku.shouldRun, Comment(rawValue: Kosoku.missingMessage)))
struct AutobahnConformanceTests {
    @Test(.timeLimit(.minutes(40)), arguments: TestTransport.all)
    func serverPassesEveryCase(transport: TestTransport) async throws {
        guard let kosoku = Kosoku.executable else {
            Issue.record(Comment(rawValue: Kosoku.tool.requiredButMissing))
            return
        }
        let reports = try Kosoku.reportDirectory(transport == .nio ? "server" : "server-\(transport.rawValue)")
        var configuration = WebSocketServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.connection = WebSocketConfiguration(limits: .echoServer, deflate: PerMessageDeflateConfiguration(),
                                                          heartbeat: nil, maximumOutboundBufferSize: 64 << 20)
        let server = WebSocketServer(configuration: configuration, eventLoopGroup: transport.group,
                                     handler: .eventLoop { _ in WebSocketEchoHandler() })
        try await server.start()
        let port = server.localAddress!.port!

        // Two cases at a time: the 12.*/13.* deflate cases are most of the run time.
        let runner = try ChildProcess(kosoku, ["-m", "fuzzingclient", "127.0.0.1:\(port)", "-o", reports.path, "-p", "2"] + Kosoku.caseSelection,
                                      log: reports.appendingPathComponent("kosoku.log"))
        let finished = await runner.waitForExit(timeout: Kosoku.timeout)
        runner.stop()
        await server.shutdown(gracePeriod: .seconds(2))
        guard finished else {
            Issue.record("kosoku did not finish within \(Kosoku.timeout); last output:\n\(runner.logTail())")
            return
        }
        try Self.check(reportIn: reports, runner: runner, side: "server")
    }

    @Test(.timeLimit(.minutes(40)))
    func clientPassesEveryCase() async throws {
        guard let kosoku = Kosoku.executable else {
            Issue.record(Comment(rawValue: Kosoku.tool.requiredButMissing))
            return
        }
        let reports = try Kosoku.reportDirectory("client")
        // Port 0: kosoku binds a free port itself and prints it, so there is no window for another process.
        let runner = try ChildProcess(kosoku, ["-m", "fuzzingserver", "127.0.0.1:0", "-o", reports.path] + Kosoku.caseSelection,
                                      log: reports.appendingPathComponent("kosoku.log"))
        defer { runner.stop() }
        guard let port = try await runner.waitForLog(#"listening on ws://[^:\s]+:(\d+)"#, timeout: .seconds(60)) else {
            Issue.record("kosoku fuzzingserver did not start; output:\n\(runner.logTail())")
            return
        }

        // The client cases run one after another; a deadline stops kosoku, which ends whatever case hangs.
        let deadline = Task {
            try await Task.sleep(for: Kosoku.timeout)
            runner.stop()
        }
        let caseCount: Int
        do {
            caseCount = try await Self.runClientCases(base: "ws://127.0.0.1:\(port)", agent: "switchboard")
        } catch {
            deadline.cancel()
            Issue.record("client run failed: \(error); kosoku output:\n\(runner.logTail())")
            return
        }
        deadline.cancel()
        // kosoku 0.1.0 ends the run when the client asks for /updateReports: it writes the reports and exits
        // (possibly before the handshake completes, so an error here is expected and ignored). Without that
        // request it waits forever after the last case. Its exit is the end of the run.
        await Self.requestReports(base: "ws://127.0.0.1:\(port)", agent: "switchboard")
        guard await runner.waitForExit(timeout: .seconds(120)) else {
            Issue.record("kosoku fuzzingserver did not exit after the last case; output:\n\(runner.logTail())")
            return
        }
        let report = try Self.check(reportIn: reports, runner: runner, side: "client")
        #expect(report?.cases.count == caseCount, "kosoku announced \(caseCount) cases")
    }

    /// Runs every case the fuzzing server offers, echoing what arrives; returns the case count.
    ///
    /// The `autobahn-client` example's own runner, so CI checks exactly what that executable does.
    static func runClientCases(base: String, agent: String) async throws -> Int {
        let caseCount = try await AutobahnRunner.caseCount(base: base)
        guard caseCount > 0 else { throw ConformanceRunError("getCaseCount answered no cases") }
        for index in 1...caseCount {
            try Task.checkCancellation()
            _ = await AutobahnRunner.runCase(index, base: base, agent: agent)
        }
        return caseCount
    }

    static func requestReports(base: String, agent: String) async {
        await AutobahnRunner.requestReports(base: base, agent: agent)
    }

    /// Reads `index.json` and records an issue listing every case that is not OK/INFORMATIONAL.
    @discardableResult
    static func check(reportIn directory: URL, runner: ChildProcess, side: String) throws -> AutobahnReport? {
        let index = directory.appendingPathComponent("index.json")
        guard FileManager.default.fileExists(atPath: index.path) else {
            Issue.record("kosoku wrote no \(index.path) (exit \(runner.exitStatus.map(String.init) ?? "?")); output:\n\(runner.logTail())")
            return nil
        }
        let report = try AutobahnReport(indexAt: index)
        print("Autobahn \(side) cases (\(report.agents.sorted().joined(separator: ", "))): \(report.summary)")
        #expect(report.agents.count == 1, "one agent expected in \(index.path), got \(report.agents.sorted())")
        if Kosoku.caseSelection.isEmpty {
            #expect(report.missingCategories.isEmpty, "no cases ran in categories \(report.missingCategories)")
        }
        if !report.failures.isEmpty {
            Issue.record("\(report.failures.count) Autobahn \(side) cases not OK/INFORMATIONAL (details in \(directory.path)):\n\(report.failureList)")
        }
        return report
    }
}

struct ConformanceRunError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
