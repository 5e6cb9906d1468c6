import Foundation
import SwitchboardTestSupport
import Testing

/// docs/openapi.yaml against a live node, with schemathesis (PyPI, in the package's `.venv` after `.ci/run`):
/// every operation fuzzed with what the document allows and with what it does not, and every answer checked:
/// no 5xx, a documented status, content type, body and headers, 405 for undeclared methods, 401 without the
/// credential.
@Suite(.enabled(if: Schemathesis.tool.shouldRun, Comment(rawValue: Schemathesis.tool.missingMessage)))
struct OpenAPIConformanceTests {
    static var packageRoot: URL { Schemathesis.packageRoot }
    static var tool: ExternalTool { Schemathesis.tool }

    @Test(.timeLimit(.minutes(10)))
    func theNodeAnswersEveryRequestAsTheDocumentSays() async throws {
        guard let schemathesis = Self.tool.executable else {
            Issue.record(Comment(rawValue: Self.tool.requiredButMissing))
            return
        }
        try await TestNode.with { node in
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("schemathesis-\(UUID().uuidString).log")
            defer { try? FileManager.default.removeItem(at: log) }
            let run = try ChildProcess(schemathesis, [
                "--no-color", "run", Self.packageRoot.appendingPathComponent("docs/openapi.yaml").path,
                "--url", "http://127.0.0.1:\(node.port)",
                "--header", "Authorization: apikey \(TestNode.apiKey)",
                // Every check but the two that demand the schema say exactly what is accepted: a channel name's
                // rules (at most 255 bytes of UTF-8, no whitespace, control or format characters) are not JSON
                // Schema's (lengths in characters, no Unicode categories); such a request gets the documented 400.
                "--checks", "all", "--exclude-checks", "positive_data_acceptance,negative_data_rejection",
                "--max-examples", "40",
                "--seed", "1",
            ], log: log)
            guard await run.waitForExit(timeout: .seconds(540)) else {
                run.kill()
                Issue.record("schemathesis did not finish within 9 minutes:\n\(run.logTail(60))")
                return
            }
            #expect(run.exitStatus == 0, "schemathesis found problems:\n\(run.logTail(120))")
        }
    }
}

/// schemathesis: `$SWITCHBOARD_SCHEMATHESIS`, the package's `.venv/bin/schemathesis` (what `.ci/run` installs),
/// then `$PATH`. CI sets `SWITCHBOARD_REQUIRE_SCHEMATHESIS=1`, which makes its absence a failure.
enum Schemathesis {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let tool = ExternalTool(
        name: "schemathesis", pathVariable: "SWITCHBOARD_SCHEMATHESIS", requiredVariable: "SWITCHBOARD_REQUIRE_SCHEMATHESIS",
        preferredPaths: [Self.packageRoot.appendingPathComponent(".venv/bin/schemathesis").path],
        missingMessage: "schemathesis not found (set SWITCHBOARD_SCHEMATHESIS, or run .ci/run once to create .venv with it); the OpenAPI check skipped")
}
