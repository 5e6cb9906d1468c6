import Foundation
import SwitchboardTestSupport

/// Finds and runs `kosoku`, the Autobahn TestSuite runner from PyPI (pinned to 0.1.0 by `.ci/run`).
///
/// Looked up in this order: `$SWITCHBOARD_KOSOKU`, the package's `.venv/bin/kosoku` (what `.ci/run`
/// creates), then `$PATH`. Without it the conformance tests skip, unless `SWITCHBOARD_REQUIRE_CONFORMANCE=1`
/// (set by CI), which turns a missing runner into a failure.
enum Kosoku {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let tool = ExternalTool(
        name: "kosoku", pathVariable: "SWITCHBOARD_KOSOKU", requiredVariable: "SWITCHBOARD_REQUIRE_CONFORMANCE",
        preferredPaths: [Self.packageRoot.appendingPathComponent(".venv/bin/kosoku").path],
        missingMessage: """
            kosoku not found (set SWITCHBOARD_KOSOKU, or run .ci/run once to create .venv with kosoku 0.1.0 patched \
            by Tests/Conformance/patch_kosoku.py); Autobahn conformance skipped
            """)

    static var shouldRun: Bool { self.tool.shouldRun }
    static var missingMessage: String { self.tool.missingMessage }
    static var executable: URL? { self.tool.executable }

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
