import SwitchboardWebSocketNIO

/// Runs the Autobahn TestSuite client cases against our client: `autobahn-client ws://HOST:PORT [AGENT]`.
@main
struct AutobahnClientCommand {
    static func main() async throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let base = arguments.first else {
            print("usage: autobahn-client ws://HOST:PORT [AGENT]")
            return
        }
        let agent = arguments.dropFirst().first ?? "switchboard"
        let caseCount = try await AutobahnRunner.caseCount(base: base)
        print("\(caseCount) cases")
        for index in 1...max(caseCount, 1) where caseCount > 0 {
            let status = await AutobahnRunner.runCase(index, base: base, agent: agent)
            if index % 50 == 0 || index == caseCount { print("case \(index)/\(caseCount): \(status.map { "closed \($0)" } ?? "no connection")") }
        }
        await AutobahnRunner.requestReports(base: base, agent: agent)
        print("report requested")
    }
}
