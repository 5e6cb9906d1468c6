import ArgumentParser
import Foundation
import SwitchboardTestSupport
import Testing
@testable import switchboard

/// `switchboard token`: what it refuses, and the development secret it shares with `serve` (issue 10).
@Suite(.serialized) struct TokenCommandTests {
    /// A fresh directory for the development secret: tests never touch the real home.
    static func temporaryStateDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    @Test(arguments: [["--ttl", "-5"], ["--ttl=-5"], ["--ttl", "0"]])
    func aTTLThatIsNotPositiveIsRefusedInWords(_ ttl: [String]) {
        do {
            _ = try TokenCommand.parse(["--sub", "alice"] + ttl)
            Issue.record("\(ttl) was accepted")
        } catch {
            #expect(TokenCommand.message(for: error) == "--ttl must be a positive number of seconds", "\(ttl)")
        }
    }

    @Test func theSecretsDirectoryFollowsTheEnvironment() {
        let explicit = DevelopmentSecretFile.directory(["SWITCHBOARD_STATE_DIR": "/tmp/x", "XDG_STATE_HOME": "/s", "HOME": "/h"])
        #expect(explicit.path == "/tmp/x")
        #expect(DevelopmentSecretFile.directory(["XDG_STATE_HOME": "/s", "HOME": "/h"]).path == "/s/switchboard")
        // XDG Base Directory: a relative XDG_STATE_HOME is invalid and ignored.
        #expect(DevelopmentSecretFile.directory(["XDG_STATE_HOME": "relative", "HOME": "/h"]).path == "/h/.local/state/switchboard")
        #expect(DevelopmentSecretFile.directory(["SWITCHBOARD_STATE_DIR": "", "HOME": "/h"]).path == "/h/.local/state/switchboard")
    }

    @Test func theSecretIsMadeOnceReadableOnlyByItsOwnerAndThenReused() throws {
        let root = try Self.temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let directory = root.appendingPathComponent("not/yet/there")
        let file = DevelopmentSecretFile(environment: ["SWITCHBOARD_STATE_DIR": directory.path])
        let first = try file.secret()
        #expect(first.utf8.count >= 32)
        #expect(try file.secret() == first)
        let attributes = try FileManager.default.attributesOfItem(atPath: file.url.path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(siblings == [DevelopmentSecretFile.fileName], "no temporary file is left behind")
    }

    @Test func aSecretTooShortToSignWithIsReportedNotUsed() throws {
        let directory = try Self.temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = DevelopmentSecretFile(environment: ["SWITCHBOARD_STATE_DIR": directory.path])
        try Data("short\n".utf8).write(to: file.url)
        #expect(throws: DevelopmentSecretFile.Failure.self) { try file.secret() }
        do {
            _ = try file.secret()
        } catch {
            #expect(error.description.contains("fewer than 32 bytes"), "\(error)")
            #expect(error.description.contains("delete it"), "\(error)")
        }
    }

    /// The README's quick start with nothing configured: a token minted before the node starts is accepted.
    @Test func aTokenMintedWithoutKeysIsAcceptedByAServeWithoutKeys() async throws {
        let directory = try Self.temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = ["SWITCHBOARD_STATE_DIR": directory.path]
        let minted = try await SwitchboardProcess.run(["token", "--sub", "alice"], environment: state)
        #expect(minted.status == 0, "stderr: \(minted.stderr)")
        #expect(minted.stderr.contains("warning: no token keys configured: signed with the development secret in"), "stderr: \(minted.stderr)")
        let token = minted.stdout.trimmingCharacters(in: .whitespacesAndNewlines)

        let node = try await ServeProcess.start(name: "development-node", arguments: [], environment: state, logDirectory: directory)
        defer { node.stop() }
        #expect(node.logTail(100).contains("development HS256 secret in \(directory.path)"), "log: \(node.logTail())")
        let connect = try SwitchboardProcess(["connect", "127.0.0.1:\(node.port)", "--realtime", "--no-stdin"],
                                             environment: state.merging(["SWITCHBOARD_TOKEN": token]) { $1 })
        defer { connect.terminate() }
        try await connect.waitForStderr(containing: "# connected as alice", within: .seconds(30))
    }
}
