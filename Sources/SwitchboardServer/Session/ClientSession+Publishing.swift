import NIOCore
import SwitchboardProtocol

/// Publishing: consecutive `publish` commands in the queue run as one batch. Each is checked as it would
/// be alone; the accepted ones go to the broker one after another, in order, from one task; the replies
/// follow in command order. A client that pipelines publishes (a feed, a game loop) thereby reaches the
/// broker without a round trip per command, and its publications reach the hub together, so each
/// subscriber gets them in one write.
extension ClientSession {
    /// One publish command of a batch: refused by its checks, or to be published.
    private enum PublishStep {
        case refused(ServerMessage.ProtocolError)
        case publish(ClientCommand.Publish, HistoryRetention)
    }

    /// Runs the consecutive publishes the machine took from its queue; tells it ``SessionMachine/commandFinished()``
    /// once every one has its answer.
    func runPublishBatch(_ batch: [SessionMachine.QueuedCommand]) {
        let steps = batch.map { self.check($0.command) }
        let jobs = steps.compactMap { step -> (ClientCommand.Publish, HistoryRetention)? in
            if case .publish(let publish, let retention) = step { return (publish, retention) }
            return nil
        }
        let started = NIODeadline.now()
        let broker = self.context.broker
        let info = self.identity?.info
        let window = self.context.limits.idempotencyWindow
        self.run({
            await broker.publish(jobs.map {
                PublishRequest(channel: $0.0.channel, data: $0.0.data, info: info, history: $0.1,
                               idempotency: $0.0.idempotencyKey.map { PublishIdempotency(key: $0, seconds: window) })
            })
        }) { [self] result in
            // Every publish's error is in its own outcome; a failure of the task itself stands for all of them.
            var outcomes: IndexingIterator<[Result<Publication, any Error>]>
            switch result {
            case .success(let all): outcomes = all.makeIterator()
            case .failure(let error): outcomes = Array(repeating: .failure(error), count: jobs.count).makeIterator()
            }
            let metrics = self.context.metrics
            for (queued, step) in zip(batch, steps) {
                let command = queued.command
                let message: ServerMessage
                switch step {
                case .refused(let error):
                    message = .error(id: command.id, error)
                case .publish:
                    switch outcomes.next() {
                    case .success(let publication)?:
                        metrics.publicationAccepted(.client)
                        message = .reply(id: command.id, .publish(.init(offset: publication.offset, epoch: publication.epoch)))
                    case .failure(let duplicate as DuplicatePublication)?:
                        // A retry of a publish that happened: the same answer as the first time.
                        message = .reply(id: command.id, .publish(.init(offset: duplicate.position.offset, epoch: duplicate.position.epoch)))
                    case .failure(let error)?:
                        message = .error(id: command.id, .publishFailed(error))
                    case nil:
                        preconditionFailure("Internal inconsistency: a publish batch lost an outcome")
                    }
                }
                metrics.commandCompleted(command, duration: .nanoseconds((NIODeadline.now() - started).nanoseconds))
                if case .error(_, let error) = message { metrics.commandFailed(error.code) }
                self.answer(queued.route, message)
            }
            self.carryOut(self.machine.commandFinished())
        }
    }

    /// What a publish command alone would be refused for, checked when its batch starts.
    private func check(_ command: ClientCommand) -> PublishStep {
        guard case .publish(let publish) = command.body else {
            preconditionFailure("Internal inconsistency: a non-publish command in a publish batch")
        }
        guard let identity = self.identity else { return .refused(.init(code: .notConnected, message: "send connect first")) }
        if let refusal = self.context.permissions.canPublish(to: publish.channel, credentials: identity.credentials,
                                                              isSubscribed: self.machine.subscriptions[publish.channel] != nil).refusal {
            return .refused(refusal)
        }
        if let key = publish.idempotencyKey, key.isEmpty || key.utf8.count > ClientCommand.Publish.maximumIdempotencyKeyLength {
            return .refused(.init(code: .badRequest, message: "idempotencyKey must be 1 to \(ClientCommand.Publish.maximumIdempotencyKeyLength) bytes"))
        }
        if let overloaded = self.context.overloaded { return .refused(.init(code: .unavailable, message: overloaded)) }
        let options = self.context.configuration.namespace(of: publish.channel)!.options
        return .publish(publish, self.context.retention(for: options))
    }
}
