import Dispatch
import Foundation

/// Lines from stdin, read on a thread of their own so blocking reads never hold a task executor thread.
///
/// The reader runs at most `capacity` lines ahead of the consumer and then waits, so piping a large file
/// into a consumer that waits for acknowledgements loses nothing (a bounded stream that drops would) and
/// memory stays bounded.
struct StandardInputLines: AsyncSequence, Sendable {
    typealias Element = String
    typealias Failure = Never

    private let lines: AsyncStream<String>
    private let room: DispatchSemaphore

    static func start(capacity: Int = 256) -> StandardInputLines {
        let (lines, continuation) = AsyncStream.makeStream(of: String.self)
        // libdispatch traps when a semaphore is released holding less than its initial value, which is
        // what a consumer that stops early leaves (issue 10: SIGILL when the client stopped for good after
        // a line). Starting at 0 and signalling the room in makes any final value valid.
        let room = DispatchSemaphore(value: 0)
        for _ in 0..<capacity { room.signal() }
        let thread = Thread {
            while let line = readLine(strippingNewline: true) {
                room.wait()
                continuation.yield(line)
            }
            continuation.finish()
        }
        thread.start()
        return StandardInputLines(lines: lines, room: room)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: AsyncStream<String>.AsyncIterator
        let room: DispatchSemaphore

        mutating func next() async -> String? {
            let line = await self.base.next()
            if line != nil { self.room.signal() }
            return line
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: self.lines.makeAsyncIterator(), room: self.room)
    }
}
