import SwitchboardTestSupport
import Testing
@testable import SwitchboardServer

/// The hub's contiguous subscriber table: a walk reaches everyone subscribed when it began and not removed
/// since, however subscribers come and go during it, and the table owns exactly the subscribers it holds.
@Suite struct SubscriberTableTests {
    final class Subscriber {
        let name: Int
        init(_ name: Int) { self.name = name }
    }

    @Test func addingTwiceKeepsOneSlotAndRemovingReleases() {
        let table = SubscriberTable<Subscriber>()
        weak var released: Subscriber?
        do {
            let subscriber = Subscriber(1)
            released = subscriber
            table.add(subscriber)
            table.add(subscriber)
            #expect(table.count == 1 && table.end == 1)
            table.remove(subscriber)
        }
        #expect(released == nil, "the table let go of the subscriber it removed")
        #expect(table.isEmpty && table.end == 0)
    }

    /// Removing subscriber 0 during a walk must not move the last one into its slot, behind the walk.
    @Test func aRemovalDuringAWalkSkipsNobody() {
        let table = SubscriberTable<Subscriber>()
        let subscribers = (0..<5).map(Subscriber.init)
        for subscriber in subscribers { table.add(subscriber) }
        table.beginWalk()
        var visited: [Int] = []
        table.forEach(in: 0..<table.end) { subscriber in
            visited.append(subscriber.name)
            if subscriber.name == 1 { table.remove(subscribers[0]) }
            if subscriber.name == 2 { table.remove(subscribers[4]) }
            if subscriber.name == 3 { table.add(Subscriber(9)) }
        }
        #expect(visited == [0, 1, 2, 3], "4 was removed before the walk reached it; 9 came after it began")
        table.endWalk()
        var after: [Int] = []
        table.forEach(in: 0..<table.end) { after.append($0.name) }
        #expect(after.sorted() == [1, 2, 3, 9])
        #expect(table.end == 4, "the holes are closed once no walk is open")
    }

    /// A subscriber removed while a walk is calling it (its connection closing from inside the delivery)
    /// lives until the walk ends: the walk calls without retaining.
    @Test func aSubscriberRemovedDuringAWalkLivesUntilTheWalkEnds() {
        let table = SubscriberTable<Subscriber>()
        weak var removed: Subscriber?
        do {
            let subscriber = Subscriber(1)
            removed = subscriber
            table.add(subscriber)
        }
        table.beginWalk()
        table.forEach(in: 0..<table.end) { table.remove($0) }
        #expect(removed != nil)
        table.endWalk()
        #expect(removed == nil)
    }

    /// Random adds, removals and overlapping walks against a model: each walk reaches exactly the
    /// subscribers present when it began, less those removed before it reached them.
    @Test(arguments: 1...20 as ClosedRange<UInt64>)
    func overlappingWalksMatchTheModel(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        let table = SubscriberTable<Subscriber>()
        var present: [Int: Subscriber] = [:]
        var nextName = 0
        for _ in 0..<20 {
            let subscriber = Subscriber(nextName)
            present[nextName] = subscriber
            table.add(subscriber)
            nextName += 1
        }
        for _ in 0..<30 {
            let atStart = Set(present.keys)
            var removedDuring: Set<Int> = []
            var visited: [Int] = []
            table.beginWalk()
            let end = table.end
            table.forEach(in: 0..<end) { subscriber in
                visited.append(subscriber.name)
                if Int.random(in: 0..<4, using: &random) == 0, let victim = present.keys.randomElement(using: &random) {
                    table.remove(present.removeValue(forKey: victim)!)
                    removedDuring.insert(victim)
                }
                if Int.random(in: 0..<4, using: &random) == 0 {
                    let newcomer = Subscriber(nextName)
                    present[nextName] = newcomer
                    table.add(newcomer)
                    nextName += 1
                }
            }
            table.endWalk()
            #expect(Set(visited).count == visited.count, "someone was visited twice")
            #expect(Set(visited).isSubset(of: atStart), "a walk reached a subscriber that came after it began")
            let missed = atStart.subtracting(visited).subtracting(removedDuring)
            #expect(missed.isEmpty, "a walk skipped subscribers present all along: \(missed)")
            #expect(table.count == present.count)
        }
    }
}
