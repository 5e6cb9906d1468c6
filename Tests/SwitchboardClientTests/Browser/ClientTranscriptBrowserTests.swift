import Foundation
import SwitchboardNodeTestSupport
import SwitchboardTestSupport
import Testing

extension BrowserTests {
    /// switchboard.js's machine (`/switchboard-machine.js`, served by the node) replays every transcript of
    /// Tests/Transcripts/client that the Swift machine replays (ClientTranscriptTests): the two clients give
    /// the same outputs for the same inputs, step by step.
    @Suite
    struct ClientTranscriptBrowserTests {
        @Test(.timeLimit(.minutes(2)))
        func theBrowserMachineDoesWhatEveryTranscriptSays() async throws {
            let files = try ClientTranscript.all()
            let texts = try files.map { try String(contentsOf: ClientTranscript.directory.appendingPathComponent($0), encoding: .utf8) }
            try await withBrowser { driver in
                try await RealtimeTestNode.with { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    let failures = try await page.value(Self.replay, [files, texts], as: [String].self)
                    #expect(failures.isEmpty, "\(failures.joined(separator: "\n\n"))")
                }
            }
        }

        /// Replays `arguments[1]` (transcript texts, named by `arguments[0]`); returns a description of each
        /// first mismatch. Outputs are compared in the transcripts' form: errors by kind and code, publications
        /// by position, settled calls without their reply.
        static let replay = """
            const { ClientMachine } = await import('/switchboard-machine.js');
            const [names, texts] = arguments;
            const canonical = (value) => JSON.stringify(value, (key, v) =>
              v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v);
            const error = (e) => (e.code == null ? { kind: e.kind } : { kind: e.kind, code: e.code });
            const form = (o) => {
              if ('settle' in o) return o.error ? { settle: o.settle, error: error(o.error) } : { settle: o.settle, ok: true };
              if ('connect' in o) return o.connect === 'ok' ? o : { connect: error(o.connect) };
              if ('publication' in o) return { deliver: o.deliver, publication: { offset: o.publication.offset, epoch: o.publication.epoch } };
              if ('finished' in o) return { deliver: o.deliver, finished: o.finished ? error(o.finished) : null };
              return o;
            };
            const failures = [];
            names.forEach((name, index) => {
              const transcript = JSON.parse(texts[index]);
              const s = transcript.settings ?? {};
              const draws = [...(transcript.random ?? [])];
              const machine = new ClientMachine({
                reconnect: { base: s.baseDelayMs ?? 500, cap: s.maxDelayMs ?? 20000, maxAttempts: s.maxAttempts ?? null },
                sendQueueLimit: s.sendQueueLimit ?? 100, heartbeatInterval: s.heartbeatIntervalMs ?? 25000,
                heartbeatTimeout: s.heartbeatTimeoutMs ?? 10000, requestTimeout: s.requestTimeoutMs ?? 10000,
                tokenRefreshMargin: s.tokenRefreshMarginMs ?? 30000, name: s.clientName ?? 'transcript', transports: s.transports,
              }, () => {
                if (draws.length === 0) failures.push(`${name}: drew more random numbers than listed`);
                return draws.shift() ?? 0;
              });
              for (const [step, { in: input, out }] of transcript.steps.entries()) {
                const got = machine.handle(input).map((o) => canonical(form(o)));
                const want = (out ?? []).map(canonical);
                if (got.join('\\n') !== want.join('\\n')) {
                  failures.push(`${name} step ${step + 1}, input ${canonical(input)}\\nexpected:\\n  ${want.join('\\n  ')}\\ngot:\\n  ${got.join('\\n  ')}`);
                  return;
                }
              }
              if (draws.length > 0) failures.push(`${name}: ${draws.length} random numbers left over`);
            });
            return failures;
            """
    }
}
