import ArgumentParser
import Foundation
import Testing
@testable import switchboard

/// `switchboard token`: what it refuses (issue 10).
@Suite(.serialized) struct TokenCommandTests {
    @Test(arguments: [["--ttl", "-5"], ["--ttl=-5"], ["--ttl", "0"]])
    func aTTLThatIsNotPositiveIsRefusedInWords(_ ttl: [String]) {
        do {
            _ = try TokenCommand.parse(["--sub", "alice"] + ttl)
            Issue.record("\(ttl) was accepted")
        } catch {
            #expect(TokenCommand.message(for: error) == "--ttl must be a positive number of seconds", "\(ttl)")
        }
    }
}
