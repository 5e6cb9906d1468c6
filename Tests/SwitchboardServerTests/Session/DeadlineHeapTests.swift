import NIOCore
import NIOEmbedded
import SwitchboardTestSupport
import Testing
@testable import SwitchboardServer

/// The per-loop heap of session deadlines: each holder is called once, at its deadline exactly, in deadline
/// order, whatever was rescheduled or cancelled before.
@Suite struct DeadlineHeapTests {
    final class Holder: DeadlineHolder {
        let name: Int
        var deadline = NIODeadline.uptimeNanoseconds(0)
        var deadlineSlot = -1
        var reached: (Int, NIODeadline) -> Void = { _, _ in }
        init(_ name: Int) { self.name = name }
        func deadlineReached() { self.reached(self.name, self.deadline) }
    }

    @Test func holdersAreCalledAtTheirDeadlinesInOrderAfterRandomReschedulesAndCancels() {
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<50 {
            let loop = EmbeddedEventLoop()
            let heap = DeadlineHeap<Holder>(eventLoop: loop)
            let start = loop.now
            var expected: [Int: NIODeadline] = [:]
            var calls: [(Int, NIODeadline, NIODeadline)] = []
            let holders = (0..<30).map { Holder($0) }
            for holder in holders { holder.reached = { calls.append(($0, $1, loop.now)) } }
            for _ in 0..<200 {
                let holder = holders.randomElement(using: &generator)!
                if Int.random(in: 0..<4, using: &generator) == 0 {
                    heap.cancel(holder)
                    expected[holder.name] = nil
                } else {
                    let deadline = start + .milliseconds(Int64.random(in: 1...1000, using: &generator))
                    heap.schedule(holder, at: deadline)
                    expected[holder.name] = deadline
                }
            }
            #expect(heap.count == expected.count)
            loop.advanceTime(by: .seconds(2))
            // Each once, at its deadline, earliest first.
            #expect(calls.map(\.0).sorted() == expected.keys.sorted())
            for (name, deadline, calledAt) in calls {
                #expect(deadline == expected[name])
                #expect(calledAt == deadline)
            }
            #expect(calls.map(\.1) == calls.map(\.1).sorted())
            #expect(heap.count == 0)
            #expect(holders.allSatisfy { $0.deadlineSlot == -1 })
        }
    }

    @Test func aHolderRescheduledFromItsOwnCallIsCalledAgainLater() {
        let loop = EmbeddedEventLoop()
        let heap = DeadlineHeap<Holder>(eventLoop: loop)
        let holder = Holder(1)
        var calledAt: [NIODeadline] = []
        holder.reached = { _, _ in
            calledAt.append(loop.now)
            if calledAt.count == 1 { heap.schedule(holder, at: loop.now + .seconds(25)) }
        }
        let start = loop.now
        heap.schedule(holder, at: start + .seconds(60))
        loop.advanceTime(by: .seconds(60) - .nanoseconds(1))
        #expect(calledAt.isEmpty)
        loop.advanceTime(by: .nanoseconds(1))
        #expect(calledAt == [start + .seconds(60)])
        loop.advanceTime(by: .seconds(25))
        #expect(calledAt == [start + .seconds(60), start + .seconds(85)])
    }
}
