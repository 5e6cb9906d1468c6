import SwitchboardProtocol

/// Why a publication from the back-end (the HTTP API's `POST /api/publish`, or an application embedding the
/// node) was not made, with the protocol's code: 104 no namespace for the channel, 100 a bad idempotency key,
/// 202 the broker unavailable or the node overloaded (nothing published), 203 not confirmed (it may have been).
public struct BackEndPublishError: Error, Sendable, CustomStringConvertible {
    let error: ServerMessage.ProtocolError

    public var code: ErrorCode { self.error.code }
    public var message: String { self.error.message }
    public var description: String { "error \(self.code): \(self.message)" }
}

extension ServerContext {
    /// The one way the back-end publishes: the namespace must exist, history follows its retention, and a
    /// key used within `idempotencyWindow` publishes nothing and answers with the first publish's position.
    func publishFromBackEnd(_ data: RawJSON, to channel: String, idempotencyKey: String?) async throws(BackEndPublishError) -> StreamPosition {
        let options: NamespaceOptions
        do {
            options = try self.permissions.options(for: channel)
        } catch {
            throw BackEndPublishError(error: error.error)
        }
        if let key = idempotencyKey, key.isEmpty || key.utf8.count > ClientCommand.Publish.maximumIdempotencyKeyLength {
            throw BackEndPublishError(error: .init(code: .badRequest,
                                                   message: "idempotencyKey must be 1 to \(ClientCommand.Publish.maximumIdempotencyKeyLength) bytes"))
        }
        if let overloaded = self.overloaded { throw BackEndPublishError(error: .init(code: .unavailable, message: overloaded)) }
        let retention = self.retention(for: options)
        let outcome: Result<Publication, any Error>
        if let key = idempotencyKey {
            let request = PublishRequest(channel: channel, data: data, info: nil, history: retention,
                                         idempotency: PublishIdempotency(key: key, seconds: self.limits.idempotencyWindow))
            outcome = await self.broker.publish([request]).first!
        } else {
            do {
                outcome = .success(try await self.broker.publish(data, to: channel, info: nil, history: retention))
            } catch {
                outcome = .failure(error)
            }
        }
        switch outcome {
        case .success(let publication):
            self.metrics.publicationAccepted(.api)
            return publication.position
        case .failure(let duplicate as DuplicatePublication):
            return duplicate.position
        case .failure(let error):
            throw BackEndPublishError(error: .publishFailed(error))
        }
    }
}

extension RealtimeServer {
    /// Publishes `data` to `channel` from the application that embeds this node, as the HTTP API's
    /// `POST /api/publish` does (no HTTP hop, no API key): subscribers on every node get it, and history
    /// keeps it for recovery. With `idempotencyKey`, a retry within `limits.idempotencyWindow` publishes
    /// nothing and returns the first publish's position.
    @discardableResult
    public func publish(_ data: RawJSON, to channel: String, idempotencyKey: String? = nil) async throws(BackEndPublishError) -> StreamPosition {
        try await self.context.publishFromBackEnd(data, to: channel, idempotencyKey: idempotencyKey)
    }
}
