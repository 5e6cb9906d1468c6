import SwitchboardTestSupport
import Testing
@testable import SwitchboardServer

/// Which event loops hold subscriptions of a channel: the hub posts the channel's pushes to those only.
@Suite struct LoopCountsTests {
    /// Random adds and removes on 6 loops, checked against a plain count per loop after every step.
    @Test func itAgreesWithACountPerLoop() {
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<200 {
            var counts = LoopCounts()
            var model = [Int](repeating: 0, count: 6)
            for _ in 0..<40 {
                let loop = Int.random(in: 0..<6, using: &generator)
                if Bool.random(using: &generator) || model[loop] == 0 {
                    counts.add(loop)
                    model[loop] += 1
                } else {
                    counts.remove(loop)
                    model[loop] -= 1
                }
                #expect((0..<6).map(counts.contains) == model.map { $0 > 0 })
                #expect(counts.isEmpty == model.allSatisfy { $0 == 0 })
            }
        }
    }

    @Test func theInterestNamesTheLoopsOfItsSubscriptions() async throws {
        let interest = ChannelInterest(broker: MemoryBroker())
        _ = try await interest.retain("room", loop: 0)
        _ = try await interest.retain("room", loop: 2)
        _ = try await interest.retain("room", loop: 2)
        #expect((0..<4).map(interest.loops(subscribedTo: "room").contains) == [true, false, true, false])
        _ = interest.release("room", loop: 2)
        #expect((0..<4).map(interest.loops(subscribedTo: "room").contains) == [true, false, true, false])
        _ = interest.release("room", loop: 0)
        #expect((0..<4).map(interest.loops(subscribedTo: "room").contains) == [false, false, true, false])
        _ = interest.release("room", loop: 2)
        #expect(interest.loops(subscribedTo: "room").isEmpty)
        #expect(interest.loops(subscribedTo: "elsewhere").isEmpty)
    }
}
