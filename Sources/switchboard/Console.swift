import Foundation
import NIOConcurrencyHelpers

/// Data lines to stdout and `# notes` to stderr, each written whole and at once, from any task.
///
/// Unbuffered on purpose: `switchboard connect … | jq` must see each publication as it arrives, and stdout
/// through `print` is block-buffered when it is not a terminal.
final class Console: Sendable {
    static let shared = Console()

    private let lock = NIOLock()

    func output(_ line: String) {
        self.lock.withLock { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
    }

    func note(_ text: String) {
        self.lock.withLock { FileHandle.standardError.write(Data("# \(text)\n".utf8)) }
    }

    func error(_ text: String) {
        self.lock.withLock { FileHandle.standardError.write(Data("error: \(text)\n".utf8)) }
    }

    func warning(_ text: String) {
        self.lock.withLock { FileHandle.standardError.write(Data("warning: \(text)\n".utf8)) }
    }
}
