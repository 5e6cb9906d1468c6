import SwitchboardProtocol

/// The command queue: the rate limit admits each command (or binary message), commands run one at a time
/// in arrival order, each answered once, and consecutive publishes start together as one batch.
extension SessionMachine {
    /// A text message arrived: `decoded` is its command, or why it is not one. `now` is a monotonic time in
    /// nanoseconds (the event loop's clock), for the rate limit.
    mutating func commandArrived(_ decoded: Result<ClientCommand, CommandDecodingError>, route: Route, now: UInt64) -> [Action] {
        guard !self.isClosed else { return self.refusedAfterClose(decoded, route: route) }
        let id: UInt64? = switch decoded {
        case .success(let command): command.id
        case .failure(let error): error.id
        }
        if let refusal = self.rateLimited(id: id, route: route, now: now) { return refusal }
        switch decoded {
        case .success(let command):
            self.queue.append(QueuedCommand(command: command, route: route))
            return self.startNextCommand()
        case .failure(let error):
            return [.commandFailed(error.code), .answer(route, .error(id: error.id, .init(code: error.code, message: error.message)))]
        }
    }

    /// The node queues a command as if the client had sent it (an SSE stream subscribes to the channels
    /// of its URL this way): it is not counted against the rate limit.
    mutating func commandQueued(_ command: ClientCommand, route: Route) -> [Action] {
        guard !self.isClosed else { return self.refusedAfterClose(.success(command), route: route) }
        self.queue.append(QueuedCommand(command: command, route: route))
        return self.startNextCommand()
    }

    /// A message of the kind the connection's encoding does not use arrived (binary in JSON, text in
    /// protobuf): not part of the protocol, but it costs a rate-limit token like a command. `explanation`
    /// says what the connection takes.
    mutating func wrongKindArrived(now: UInt64, explanation: String) -> [Action] {
        guard !self.isClosed else { return [] }
        if let refusal = self.rateLimited(id: nil, route: .transport, now: now) { return refusal }
        return [.commandFailed(.badRequest), .answer(.transport, .error(id: nil, .init(code: .badRequest, message: explanation)))]
    }

    /// A closed session answers only those who wait for an answer elsewhere (an SSE command's request).
    private func refusedAfterClose(_ decoded: Result<ClientCommand, CommandDecodingError>, route: Route) -> [Action] {
        guard case .caller = route else { return [] }
        let id: UInt64? = switch decoded {
        case .success(let command): command.id
        case .failure(let error): error.id
        }
        return [.answer(route, .error(id: id, .init(code: .notConnected, message: "the session is closed")))]
    }

    /// Nil when the rate limit admits one more command; otherwise error 201, or 4004 after too many strikes
    /// in a row.
    private mutating func rateLimited(id: UInt64?, route: Route, now: UInt64) -> [Action]? {
        if self.rateLimit.take(now: now) {
            self.rateLimitStrikes = 0
            return nil
        }
        self.rateLimitStrikes += 1
        if self.rateLimitStrikes >= self.limits.rateLimitStrikes {
            return [.commandFailed(.rateLimited), .disconnect(.init(code: .rateLimited, reason: "too many commands"))]
        }
        let rate = self.limits.commandsPerSecond
        let shown = rate == rate.rounded() ? String(Int(rate)) : String(rate)
        return [.commandFailed(.rateLimited),
                .answer(route, .error(id: id, .init(code: .rateLimited, message: "too many commands: at most \(shown) per second")))]
    }

    /// Commands received from now on wait until ``releaseCommands()``: the transport is handing over a read's
    /// worth, and the publishes among them should start as one batch.
    mutating func holdCommands() {
        self.commandsHeld = true
    }

    /// The transport handed over everything it read: the commands held start.
    mutating func releaseCommands() -> [Action] {
        guard self.commandsHeld else { return [] }
        self.commandsHeld = false
        return self.startNextCommand()
    }

    /// The running command (or batch) has its answer: the next starts.
    mutating func commandFinished() -> [Action] {
        self.executing = false
        return self.startNextCommand()
    }

    mutating func startNextCommand() -> [Action] {
        guard !self.executing, !self.commandsHeld, !self.isClosed, !self.queue.isEmpty else { return [] }
        self.executing = true
        guard case .publish = self.queue[0].command.body else {
            let next = self.queue.removeFirst()
            self.releaseQueueIfEmpty()
            return [.perform(next)]
        }
        var batch: [QueuedCommand] = []
        while batch.count < self.limits.publishBatchLimit, case .publish? = self.queue.first?.command.body {
            batch.append(self.queue.removeFirst())
        }
        self.releaseQueueIfEmpty()
        return [.publish(batch)]
    }

    /// An empty queue keeps no storage: most sessions send a command now and then, and a kept capacity would
    /// be a hundred-odd bytes on every idle connection.
    private mutating func releaseQueueIfEmpty() {
        if self.queue.isEmpty { self.queue = [] }
    }
}
