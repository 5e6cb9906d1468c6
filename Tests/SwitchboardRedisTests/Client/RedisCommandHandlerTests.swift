import NIOCore
import NIOEmbedded
import Testing
@testable import SwitchboardRedis

/// The pipeline's command timeouts on a clock the test moves (an `EmbeddedChannel`, no redis-server): a
/// command fails at its timeout and not before, and keeps its place in the queue, so its late reply is
/// dropped instead of answering the next command.
///
/// Synchronous on purpose: an embedded loop belongs to the thread that made it.
@Suite struct RedisCommandHandlerTests {
    /// A request whose outcome the test can look at once the loop has run.
    final class Sent {
        var outcome: Result<RESPValue, any Error>?
        let request: RedisRequest

        init(_ command: RedisCommand, timeout: Duration?, on loop: EmbeddedEventLoop) {
            let reply = loop.makePromise(of: RESPValue.self)
            self.request = RedisRequest(command: command, reply: reply, timeout: timeout)
            reply.futureResult.assumeIsolated().whenComplete { self.outcome = $0 }
        }

        var timedOut: Bool {
            guard case .failure(let error as RedisClientError)? = self.outcome else { return false }
            return error.isTimeout
        }

        var value: RESPValue? { try? self.outcome?.get() }
    }

    /// The handler alone on a channel; made in each test, on the thread that uses it.
    struct Pipeline {
        let channel = EmbeddedChannel(handler: RedisCommandHandler(onPush: { _ in }))
        var loop: EmbeddedEventLoop { self.channel.embeddedEventLoop }

        func send(_ command: RedisCommand, timeout: Duration? = .milliseconds(300)) throws -> Sent {
            let sent = Sent(command, timeout: timeout, on: self.loop)
            try self.channel.writeOutbound(sent.request)
            return sent
        }

        func reply(_ value: RESPValue) throws {
            try self.channel.writeInbound(value)
        }
    }

    @Test func aTimedOutCommandKeepsItsPlaceInThePipeline() throws {
        let pipeline = Pipeline()
        let blocking = try pipeline.send(RedisCommand("BLPOP", ["empty-list", "1"]))
        pipeline.loop.advanceTime(by: .milliseconds(300) - .nanoseconds(1))
        #expect(blocking.outcome == nil, "timed out before its timeout")
        pipeline.loop.advanceTime(by: .nanoseconds(1))
        #expect(blocking.timedOut, "\(String(describing: blocking.outcome))")

        let next = try pipeline.send(RedisCommand("ECHO", ["after"]))
        // BLPOP's reply comes one day, before the next command's: it is read and dropped with its slot.
        try pipeline.reply(RESPValue.null)
        #expect(next.outcome == nil, "the timed-out command's reply went to the next command")
        try pipeline.reply(RESPValue.bulkString(ByteBuffer(string: "after")))
        #expect(next.value?.string == "after")
    }

    /// Timers find their own slot by number while earlier slots are answered: the second of three commands
    /// times out, the first and third get their own replies.
    @Test func aTimeoutInTheMiddleOfThePipelineMarksOnlyItsOwnSlot() throws {
        let pipeline = Pipeline()
        let first = try pipeline.send(RedisCommand("PING"), timeout: .seconds(10))
        let second = try pipeline.send(RedisCommand("BLPOP", ["empty-list", "1"]), timeout: .seconds(1))
        let third = try pipeline.send(RedisCommand("ECHO", ["third"]), timeout: .seconds(10))
        try pipeline.reply(RESPValue.simpleString("PONG"))
        pipeline.loop.advanceTime(by: .seconds(1))
        #expect(first.value == .simpleString("PONG"))
        #expect(second.timedOut)
        #expect(third.outcome == nil)
        try pipeline.reply(RESPValue.null)
        try pipeline.reply(RESPValue.bulkString(ByteBuffer(string: "third")))
        #expect(third.value?.string == "third")
        // The answered commands' timers were cancelled: nothing fails later.
        pipeline.loop.advanceTime(by: .seconds(60))
        #expect(first.value == .simpleString("PONG"))
        #expect(third.value?.string == "third")
    }

    @Test func aCommandWithoutATimeoutWaitsForItsReply() throws {
        let pipeline = Pipeline()
        let waiting = try pipeline.send(RedisCommand("BLPOP", ["empty-list", "0"]), timeout: nil)
        pipeline.loop.advanceTime(by: .hours(24))
        #expect(waiting.outcome == nil)
        try pipeline.reply(RESPValue.null)
        #expect(waiting.value == .null)
    }
}
