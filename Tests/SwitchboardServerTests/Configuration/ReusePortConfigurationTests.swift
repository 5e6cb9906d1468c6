import Foundation
import Testing
@testable import SwitchboardServer

/// `reusePort` (several nodes on one host share a port) from the config file and the environment.
@Suite struct ReusePortConfigurationTests {
    @Test func itIsOffByDefaultAndReadFromTheFileAndTheEnvironment() throws {
        #expect(try ServerConfiguration.load(environment: [:]).reusePort == false)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("switchboard-reuse-\(UUID()).json")
        try Data(#"{"port": 9100, "reusePort": true}"#.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromFile = try ServerConfiguration.load(file: file.path, environment: [:])
        #expect(fromFile.reusePort && fromFile.port == 9100)
        #expect(try ServerConfiguration.load(file: file.path, environment: ["SWITCHBOARD_REUSE_PORT": "false"]).reusePort == false)
        #expect(try ServerConfiguration.load(environment: ["SWITCHBOARD_REUSE_PORT": "TRUE"]).reusePort)
    }

    @Test func aValueThatIsNotABooleanIsNamed() {
        #expect {
            try ServerConfiguration.load(environment: ["SWITCHBOARD_REUSE_PORT": "yes please"])
        } throws: { error in
            "\(error)".contains("SWITCHBOARD_REUSE_PORT must be true or false")
        }
    }
}
