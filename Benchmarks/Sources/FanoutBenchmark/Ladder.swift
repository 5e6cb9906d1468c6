import NIOCore

/// Runs the rate steps in order until one shows the server is past its limit.
struct Ladder {
    struct Settings {
        var rates: [Double]
        var stepSeconds: Double
        /// After a step's last send: how long to wait for its answers and deliveries.
        var drainSeconds: Double
        var maximumP99Milliseconds: Double
        var serverPID: Int32?
    }

    let settings: Settings
    let pool: SubscriberPool
    let publisher: Publisher

    /// The steps run, and why the ladder stopped early (nil when every rate passed).
    func run(onStep: (StepResult) -> Void) async throws -> (results: [StepResult], stopReason: String?) {
        var results: [StepResult] = []
        for (step, rate) in self.settings.rates.enumerated() {
            let result = try await self.runStep(step, rate: rate)
            results.append(result)
            onStep(result)
            if let reason = self.stopReason(result) { return (results, reason) }
        }
        return (results, nil)
    }

    private func runStep(_ step: Int, rate: Double) async throws -> StepResult {
        let subscribers = try await self.pool.liveCount()
        let serverBefore = self.settings.serverPID.flatMap { ProcessSampler.sample(pid: $0) }
        let clientBefore = ProcessSampler.sample(pid: nil)
        let start = NIODeadline.now()
        try await self.publisher.run(step: step, rate: rate, seconds: self.settings.stepSeconds)
        try await self.drain(step, subscribers: subscribers,
                             until: NIODeadline.now() + .nanoseconds(Int64(self.settings.drainSeconds * 1e9)))
        let unanswered = try await self.publisher.inFlight()
        let serverAfter = self.settings.serverPID.flatMap { ProcessSampler.sample(pid: $0) }
        let clientAfter = ProcessSampler.sample(pid: nil)
        let deliveries = try await self.pool.deliveries(ofStep: step)
        let startNanoseconds = start.uptimeNanoseconds
        return StepResult(
            targetRate: rate, seconds: self.settings.stepSeconds, subscribers: subscribers,
            publications: try await self.publisher.publications(ofStep: step), unanswered: unanswered, deliveries: deliveries,
            deliverySeconds: deliveries.lastReceivedAt > startNanoseconds ? Double(deliveries.lastReceivedAt - startNanoseconds) / 1e9 : 0,
            serverCPUPercent: serverAfter.flatMap { after in serverBefore.map { after.cpuPercent(since: $0) } },
            serverSystemPercent: serverAfter.flatMap { after in serverBefore.map { after.systemPercent(since: $0) } },
            serverCorePercent: serverAfter.flatMap { after in serverBefore.flatMap { after.corePercent(since: $0) } },
            serverResidentMegabytes: serverAfter?.residentMegabytes,
            clientCPUPercent: clientAfter.flatMap { after in clientBefore.map { after.cpuPercent(since: $0) } })
    }

    /// Waits until every request of the step is answered and every answered publication has reached every
    /// subscriber, or until `deadline`: whatever has not arrived by then counts as missing.
    private func drain(_ step: Int, subscribers: Int, until deadline: NIODeadline) async throws {
        while NIODeadline.now() < deadline {
            let published = try await self.publisher.publications(ofStep: step).published
            let received = try await self.pool.received(inStep: step)
            if try await self.publisher.inFlight() == 0, received >= UInt64(published) * UInt64(subscribers) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Why a higher rate would tell nothing more, if this step already shows the limit.
    private func stopReason(_ result: StepResult) -> String? {
        let rate = Int(result.targetRate)
        let p99 = result.latency(99)
        if p99 > self.settings.maximumP99Milliseconds {
            return "p99 latency \(Int(p99)) ms > \(Int(self.settings.maximumP99Milliseconds)) ms at \(rate) pub/s"
        }
        if result.missing > 0 {
            return "deliveries fell behind at \(rate) pub/s: \(result.missing) of \(result.expected) not received "
                + "\(self.settings.drainSeconds) s after the last send"
        }
        // Everything arrived, but slower than it was published: the backlog grew during the step.
        let publishedDeliveries = result.achievedRate * Double(result.subscribers)
        if result.deliveredRate < 0.9 * publishedDeliveries {
            return "deliveries fell behind at \(rate) pub/s: \(Int(result.deliveredRate)) delivered a second "
                + "for \(Int(publishedDeliveries)) published"
        }
        let publications = result.publications
        if publications.skipped > 0 || publications.failed > 0 {
            return "publishing fell behind at \(rate) pub/s: \(publications.skipped) sends skipped (too many requests in flight), "
                + "\(publications.failed) failed" + (publications.firstFailure.map { " (first: \($0))" } ?? "")
        }
        if result.achievedRate < 0.9 * result.targetRate {
            return "the HTTP API answered only \(Int(result.achievedRate)) of \(rate) pub/s"
        }
        return nil
    }
}
