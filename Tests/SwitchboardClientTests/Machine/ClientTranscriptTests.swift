import Foundation
import Testing
@testable import SwitchboardClient

/// The client machine replays every transcript of Tests/Transcripts/client, step by step: each input must give
/// exactly the outputs written after it, in order. switchboard.js replays the same files in the browser
/// suite, so the two clients cannot disagree about what the protocol does.
@Suite struct ClientTranscriptTests {
    @Test(arguments: try ClientTranscript.all())
    func theMachineDoesWhatTheTranscriptSays(_ file: String) throws {
        let transcript = try ClientTranscript(file: file)
        var draws = transcript.random.makeIterator()
        var machine = ClientProtocolMachine(settings: transcript.settings, random: {
            guard let draw = draws.next() else {
                Issue.record("\(file): the machine drew more random numbers than the transcript lists")
                return 0
            }
            return draw
        })
        for (index, step) in transcript.steps.enumerated() {
            let actual = machine.handle(step.input).map(ClientTranscript.json)
            let want = step.expected.map(ClientTranscript.canonical)
            let got = actual.map(ClientTranscript.canonical)
            #expect(got == want, """
                \(file) step \(index + 1), input \(ClientTranscript.canonical(step.inputJSON))
                expected:
                  \(want.joined(separator: "\n  "))
                got:
                  \(got.joined(separator: "\n  "))
                """)
            if got != want { return }
        }
        #expect(draws.next() == nil, "\(file): random numbers left over: the machine drew fewer than the transcript lists")
    }

    @Test func everyTranscriptHasANameAndSteps() throws {
        let files = try ClientTranscript.all()
        #expect(files.count >= 8)
        for file in files {
            let transcript = try ClientTranscript(file: file)
            #expect(!transcript.steps.isEmpty, "\(file)")
            #expect(transcript.name != file, "\(file) says what it shows in 'name'")
        }
    }
}
