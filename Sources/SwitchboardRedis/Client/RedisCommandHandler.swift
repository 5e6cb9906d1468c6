import NIOCore

/// What the connection asks its handler to send.
struct RedisRequest {
    let command: RedisCommand
    /// Completed with the reply; nil for a command whose answers arrive as pushes (SUBSCRIBE in RESP3).
    let reply: EventLoopPromise<RESPValue>?
    let timeout: Duration?
}

/// Pipelining: commands go out back to back as they are written, and replies, which Redis sends in the
/// order it received the commands, are matched to them first in, first out. Pushes (`>`) are not replies
/// and go to `onPush`.
///
/// A command that times out keeps its place in the queue, marked abandoned: its reply still comes one day,
/// and dropping the slot would hand that reply to the next command.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private enum Slot {
        case waiting(EventLoopPromise<RESPValue>, timeout: Scheduled<Void>?)
        /// Timed out: its reply is read and dropped.
        case abandoned
    }

    private enum State {
        case active
        case closed
    }

    private var slots = CircularBuffer<Slot>(initialCapacity: 16)
    /// The sequence number of `slots.first`: a timer finds its slot by number as earlier ones are popped.
    private var firstSequence: UInt64 = 0
    private var state = State.active
    private let onPush: @Sendable ([RESPValue]) -> Void

    init(onPush: @escaping @Sendable ([RESPValue]) -> Void) {
        self.onPush = onPush
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = self.unwrapOutboundIn(data)
        guard case .active = self.state else {
            request.reply?.fail(RedisClientError.connectionClosed)
            promise?.fail(RedisClientError.connectionClosed)
            return
        }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        request.command.encode(into: &buffer)
        if let reply = request.reply {
            var timer: Scheduled<Void>?
            if let timeout = request.timeout {
                let sequence = self.firstSequence + UInt64(self.slots.count)
                let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
                let name = request.command.description
                timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    loopBound.value.timeOut(sequence, error: .timedOut(name, after: timeout))
                }
            }
            self.slots.append(.waiting(reply, timeout: timer))
        }
        context.write(self.wrapOutboundOut(buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = self.unwrapInboundIn(data)
        if case .push(let elements) = value {
            self.onPush(elements)
            return
        }
        guard let slot = self.slots.popFirst() else {
            // A reply nobody asked for: the stream is out of step with the commands, so nothing after it
            // can be matched either.
            self.failAll(.protocolError("a reply without a command"))
            context.close(promise: nil)
            return
        }
        self.firstSequence += 1
        guard case .waiting(let promise, let timer) = slot else { return }
        timer?.cancel()
        if case .error(let message) = value {
            promise.fail(RedisClientError.server(message))
        } else {
            promise.succeed(value)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let failure: RedisClientError
        if let decoding = error as? RESPDecodingError {
            failure = .protocolError(decoding.detail)
        } else {
            failure = .connectionClosed
        }
        self.failAll(failure)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.failAll(.connectionClosed)
        context.fireChannelInactive()
    }

    private func timeOut(_ sequence: UInt64, error: RedisClientError) {
        guard sequence >= self.firstSequence else { return }
        let index = self.slots.index(self.slots.startIndex, offsetBy: Int(sequence - self.firstSequence))
        guard index < self.slots.endIndex, case .waiting(let promise, _) = self.slots[index] else { return }
        self.slots[index] = .abandoned
        promise.fail(error)
    }

    private func failAll(_ error: RedisClientError) {
        self.state = .closed
        while let slot = self.slots.popFirst() {
            self.firstSequence += 1
            if case .waiting(let promise, let timer) = slot {
                timer?.cancel()
                promise.fail(error)
            }
        }
    }
}
