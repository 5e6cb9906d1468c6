#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SwitchboardServer

/// The development HS256 secret, kept in a per-user file so that `serve` (when no token keys are configured)
/// and `token` (when given no secret) sign with the same one: a newcomer's `switchboard token --sub alice`
/// then mints a token the development node accepts, with nothing configured.
///
/// The file is `development-secret` in `$SWITCHBOARD_STATE_DIR`, else `$XDG_STATE_HOME/switchboard`, else
/// `~/.local/state/switchboard`; it is created on first use (directory 0700, file 0600). Anyone who can read
/// it can mint any user's token for a node that uses it: it is for development only.
struct DevelopmentSecretFile: Sendable {
    /// Where the file lives instead of the per-user state directory (tests point it at a temporary directory).
    static let directoryVariable = "SWITCHBOARD_STATE_DIR"
    static let fileName = "development-secret"

    let url: URL

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.url = Self.directory(environment).appendingPathComponent(Self.fileName)
    }

    /// XDG Base Directory Specification: "If $XDG_STATE_HOME is either not set or empty, a default equal to
    /// $HOME/.local/state should be used", and a relative path in it is invalid and ignored.
    static func directory(_ environment: [String: String]) -> URL {
        if let explicit = environment[Self.directoryVariable], !explicit.isEmpty {
            return URL(fileURLWithPath: explicit, isDirectory: true)
        }
        if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") {
            return URL(fileURLWithPath: state, isDirectory: true).appendingPathComponent("switchboard", isDirectory: true)
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0, isDirectory: true) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        return home.appendingPathComponent(".local/state/switchboard", isDirectory: true)
    }

    /// The secret in the file, made first if there is none.
    func secret() throws(Failure) -> String {
        if let existing = try self.read() { return existing }
        try self.create(AuthConfiguration.generateDevelopmentSecret())
        // Read back: a `serve` and a `token` started together may both have made one, and the first wins.
        guard let secret = try self.read() else { throw Failure(description: "\(self.url.path) vanished just after it was made") }
        return secret
    }

    private func read() throws(Failure) -> String? {
        guard FileManager.default.fileExists(atPath: self.url.path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: self.url)
        } catch {
            throw Failure(description: "cannot read the development secret in \(self.url.path): \(error.localizedDescription)")
        }
        let secret = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // RFC 7518 §3.2: an HS256 key of at least 256 bits, as TokenMinter and the node require.
        guard secret.utf8.count >= 32 else {
            throw Failure(description: "\(self.url.path) holds no usable development secret (fewer than 32 bytes): delete it, and the next serve or token makes a new one")
        }
        return secret
    }

    /// Writes `secret` to a temporary file and links it into place: link(2) never replaces an existing file,
    /// so concurrent first uses agree on one secret, and no reader ever sees a half-written file.
    private func create(_ secret: String) throws(Failure) {
        let directory = self.url.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw Failure(description: "cannot create \(directory.path) for the development secret: \(error.localizedDescription)")
        }
        let temporary = directory.appendingPathComponent(".\(Self.fileName).\(getpid()).\(UInt32.random(in: .min ... .max))")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw Self.systemFailure("cannot create", temporary, errno) }
        defer { unlink(temporary.path) }
        let bytes = Array((secret + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        let writeError = errno
        close(descriptor)
        guard written == bytes.count else { throw Self.systemFailure("cannot write", temporary, writeError) }
        if link(temporary.path, self.url.path) != 0 && errno != EEXIST {
            throw Self.systemFailure("cannot create", self.url, errno)
        }
    }

    private static func systemFailure(_ what: String, _ url: URL, _ code: Int32) -> Failure {
        Failure(description: "\(what) \(url.path) for the development secret: \(String(cString: strerror(code)))")
    }
}
