import Foundation

/// A program some tests need from outside the package (kosoku, chromedriver, redis-server…): where to find
/// it, and whether its absence skips those tests or fails them.
///
/// On a developer's machine a missing tool skips its tests with `missingMessage`; in CI the tool's
/// `requiredVariable` is set to 1 (by `.ci/run`), which turns its absence into a failure.
public struct ExternalTool: Sendable {
    /// The executable's name on `$PATH`.
    public let name: String
    /// An environment variable with an explicit path; a wrong explicit path is not replaced by another copy.
    public let pathVariable: String
    /// The environment variable that, set to 1, makes the tool required.
    public let requiredVariable: String
    /// Paths tried before `$PATH` (for example a virtualenv inside the package).
    public let preferredPaths: [String]
    /// Why the tests skip, and how to get the tool.
    public let missingMessage: String

    public init(name: String, pathVariable: String, requiredVariable: String, preferredPaths: [String] = [], missingMessage: String) {
        self.name = name
        self.pathVariable = pathVariable
        self.requiredVariable = requiredVariable
        self.preferredPaths = preferredPaths
        self.missingMessage = missingMessage
    }

    public var isRequired: Bool { ProcessInfo.processInfo.environment[self.requiredVariable] == "1" }

    /// Run the tests when the tool is there, or when its absence must fail.
    public var shouldRun: Bool { self.executable != nil || self.isRequired }

    public var executable: URL? {
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String]
        if let explicit = environment[self.pathVariable], !explicit.isEmpty {
            candidates = [explicit]
        } else {
            candidates = self.preferredPaths
            for directory in (environment["PATH"] ?? "").split(separator: ":") {
                candidates.append("\(directory)/\(self.name)")
            }
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }.map { URL(fileURLWithPath: $0) }
    }

    /// The failure to record when a test that needs the tool runs without it (only when it is required).
    public var requiredButMissing: String { "\(self.requiredVariable)=1 but \(self.missingMessage)" }
}
