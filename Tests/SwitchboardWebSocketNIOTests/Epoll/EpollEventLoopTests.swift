#if os(Linux)
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing
@testable import SwitchboardWebSocketNIO

@Suite struct EpollEventLoopTests {
    @Test func tasksFromOtherThreadsRunOnTheLoopInOrder() async throws {
        try await withEpollGroup(threads: 1) { group in
            let loop = group.loops[0]
            #expect(!loop.inEventLoop)
            let seen = NIOLockedValueBox<[Int]>([])
            let onLoop = NIOLockedValueBox(true)
            await withTaskGroup(of: Void.self) { tasks in
                for thread in 0..<4 {
                    tasks.addTask {
                        for index in 0..<250 {
                            loop.execute {
                                if !loop.inEventLoop { onLoop.withLockedValue { $0 = false } }
                                seen.withLockedValue { $0.append(thread * 1_000 + index) }
                            }
                        }
                    }
                }
            }
            try await loop.submit {}.get()
            let values = seen.withLockedValue { $0 }
            #expect(values.count == 1_000)
            #expect(onLoop.withLockedValue { $0 })
            // Each thread's tasks in the order it queued them.
            for thread in 0..<4 {
                let mine = values.filter { $0 / 1_000 == thread }
                #expect(mine == (0..<250).map { thread * 1_000 + $0 })
            }
        }
    }

    @Test func scheduledTasksRunInDeadlineOrderThenSchedulingOrder() async throws {
        try await withEpollGroup(threads: 1) { group in
            let loop = group.loops[0]
            let order = NIOLockedValueBox<[String]>([])
            let now = NIODeadline.now()
            let third = loop.scheduleTask(deadline: now + .milliseconds(60)) { order.withLockedValue { $0.append("60") } }
            _ = loop.scheduleTask(deadline: now + .milliseconds(20)) { order.withLockedValue { $0.append("20a") } }
            _ = loop.scheduleTask(deadline: now + .milliseconds(40)) { order.withLockedValue { $0.append("40") } }
            _ = loop.scheduleTask(deadline: now + .milliseconds(20)) { order.withLockedValue { $0.append("20b") } }
            try await third.futureResult.get()
            #expect(order.withLockedValue { $0 } == ["20a", "20b", "40", "60"])
        }
    }

    @Test func aScheduledTaskGivesItsValueOrError() async throws {
        try await withEpollGroup(threads: 1) { group in
            let loop = group.loops[0]
            let value = try await loop.scheduleTask(in: .milliseconds(1)) { 42 }.futureResult.get()
            #expect(value == 42)
            struct Boom: Error {}
            await #expect(throws: Boom.self) { try await loop.scheduleTask(in: .zero) { throw Boom() }.futureResult.get() }
        }
    }

    @Test func aCancelledTaskNeverRunsAndItsFutureFails() async throws {
        try await withEpollGroup(threads: 1) { group in
            let loop = group.loops[0]
            let ran = NIOLockedValueBox(0)
            // Enough cancelled timers to make the heap sweep them out, around live ones that must survive it.
            var cancelled: [Scheduled<Void>] = []
            var live: [Scheduled<Void>] = []
            for index in 0..<500 {
                let task = loop.scheduleTask(in: .milliseconds(50 + Int64(index % 7))) { ran.withLockedValue { $0 += 1 } }
                if index.isMultiple(of: 10) { live.append(task) } else { cancelled.append(task) }
            }
            for task in cancelled { task.cancel() }
            for task in live { try await task.futureResult.get() }
            #expect(ran.withLockedValue { $0 } == live.count)
            for task in cancelled.prefix(5) {
                await #expect(throws: EventLoopError.cancelled) { try await task.futureResult.get() }
            }
        }
    }

    @Test func aSucceededVoidFutureIsOneCompletedFutureForEveryCaller() async throws {
        try await withEpollGroup(threads: 1) { group in
            let loop = group.loops[0]
            let first = loop.makeSucceededVoidFuture()
            #expect(first === loop.makeSucceededVoidFuture())
            // NIO's generic maker routes Void here: it must not come back.
            try await loop.makeSucceededFuture(()).get()
            try await first.get()
        }
    }

    @Test func futuresHopBetweenEpollAndNIOLoops() async throws {
        try await withEpollGroup(threads: 2) { group in
            let nio = MultiThreadedEventLoopGroup.singleton.next()
            let result = try await group.next().submit { 20 }
                .hop(to: nio)
                .map { $0 + 1 }
                .hop(to: group.loops[1])
                .flatMapThrowing { value -> Int in
                    #expect(group.loops[1].inEventLoop)
                    return value * 2
                }
                .get()
            #expect(result == 42)
        }
    }

    @Test func shutdownFailsPendingTimersAndRunsWhatWasQueued() async throws {
        let group = try EpollEventLoopGroup(numberOfThreads: 1)
        let loop = group.loops[0]
        let outcomes = NIOLockedValueBox<[String]>([])
        let pending = loop.scheduleTask(in: .hours(1)) {}
        // Observed through callbacks registered while the loop runs: as with NIO's loops, a future of a
        // loop that has stopped cannot be waited on from outside it.
        try await loop.submit {
            pending.futureResult.whenFailure { error in outcomes.withLockedValue { $0.append("timer: \(error)") } }
        }.get()
        loop.execute { outcomes.withLockedValue { $0.append("task ran") } }
        try await group.shutdownGracefully()
        #expect(outcomes.withLockedValue { $0 } == ["task ran", "timer: \(EventLoopError.shutdown)"])
    }
}

/// Runs `body` with a fresh group, then shuts it down.
func withEpollGroup(threads: Int, _ body: (EpollEventLoopGroup) async throws -> Void) async throws {
    let group = try EpollEventLoopGroup(numberOfThreads: threads)
    do {
        try await body(group)
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
    try await group.shutdownGracefully()
}

@Suite struct EpollTimerHeapTests {
    @Test func popsInDeadlineOrderWithTiesInSchedulingOrder() {
        var heap = EpollTimerHeap()
        var generator = SystemRandomNumberGenerator()
        var timers: [EpollTimer] = []
        for sequence in 0..<400 {
            let timer = EpollTimer(deadline: UInt64.random(in: 0..<50, using: &generator), sequence: UInt64(sequence), run: {}, fail: { _ in })
            timers.append(timer)
            heap.insert(timer)
        }
        for timer in timers where timer.sequence.isMultiple(of: 3) {
            timer.state = .cancelled
            heap.noteCancelled()
        }
        var popped: [EpollTimer] = []
        while let timer = heap.popDue(now: .max) { popped.append(timer) }
        let expected = timers.filter { !$0.sequence.isMultiple(of: 3) }.sorted { $0.runs(before: $1) }
        #expect(popped.map(\.sequence) == expected.map(\.sequence))
        #expect(heap.isEmpty)
    }

    @Test func onlyDueTimersPop() {
        var heap = EpollTimerHeap()
        heap.insert(EpollTimer(deadline: 10, sequence: 0, run: {}, fail: { _ in }))
        heap.insert(EpollTimer(deadline: 20, sequence: 1, run: {}, fail: { _ in }))
        #expect(heap.popDue(now: 5) == nil)
        #expect(heap.popDue(now: 10)?.sequence == 0)
        #expect(heap.popDue(now: 15) == nil)
        #expect(heap.nextDeadline() == 20)
    }
}
#endif
