import Foundation
import SwitchboardTestSupport
import Testing

/// `switchboard serve` either listens and says where, or exits with the reason; and SIGTERM always ends it.
/// (A node whose port was taken used to wait for an address for ever, with SIGTERM ignored.)
@Suite(.serialized) struct ServeStartupTests {
    private static let patience = Duration.seconds(30)

    /// Starts `serve` and returns it with the port from its "serving on" line.
    private func start(_ arguments: [String] = []) async throws -> (SwitchboardProcess, Int) {
        let node = try SwitchboardProcess(["serve", "--host", "127.0.0.1", "--port", "0", "--log-level", "warning"] + arguments)
        let line = try await node.waitForStdoutLines(1, within: Self.patience)[0]
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: CharacterSet(charactersIn: "/"))) }) else {
            node.terminate()
            throw SwitchboardProcess.Failure(description: "no port in '\(line)'")
        }
        return (node, port)
    }

    @Test func aTakenPortFailsStartUpWithTheReason() async throws {
        let (first, port) = try await start()
        defer { first.terminate() }
        let second = try await SwitchboardProcess.run(["serve", "--host", "127.0.0.1", "--port", "\(port)"], within: Self.patience)
        #expect(second.status == 1)
        #expect(second.stderr.contains("cannot listen on 127.0.0.1:\(port): the address is already in use"), "stderr: \(second.stderr)")
        #expect(!second.stdout.contains("serving on"))
    }

    /// With `--reuse-port` on both, a second node shares the port instead of failing: each answers.
    @Test func nodesStartedWithReusePortShareAPort() async throws {
        let (first, port) = try await start(["--reuse-port"])
        defer { first.terminate() }
        let second = try SwitchboardProcess(["serve", "--host", "127.0.0.1", "--port", "\(port)", "--reuse-port", "--log-level", "warning"])
        defer { second.terminate() }
        let line = try await second.waitForStdoutLines(1, within: Self.patience)[0]
        #expect(line.contains("serving on") && line.contains(":\(port)"), "second node: \(line) \(second.stderr)")
        for _ in 0..<10 {
            let health = try await LoopbackHTTPRequest.send("GET", port: port, path: "/health", timeoutSeconds: 30)
            #expect(health.status == 200)
        }
        second.terminate()
        #expect(try await second.exitStatus(within: Self.patience) == 0, "\(second.stderr)")
    }

    /// The start-up stress test: every start listens (an HTTP request is answered) and every SIGTERM ends
    /// the process cleanly; some SIGTERMs land while the node is still starting.
    @Test func manyStartsEachListenAndEachSIGTERMEndsTheNode() async throws {
        for round in 0..<20 {
            if round % 4 == 3 {
                // SIGTERM during start-up: the node must end, never hang.
                let node = try SwitchboardProcess(["serve", "--host", "127.0.0.1", "--port", "0"])
                try await Task.sleep(for: .milliseconds(Int64(round * 10)))
                node.terminate()
                _ = try await node.exitStatus(within: Self.patience)
                continue
            }
            let (node, port) = try await start()
            let health = try await LoopbackHTTPRequest.send("GET", port: port, path: "/health", timeoutSeconds: 30)
            #expect(health.status == 200, "round \(round)")
            node.terminate()
            #expect(try await node.exitStatus(within: Self.patience) == 0, "round \(round): \(node.stderr)")
        }
    }
}
