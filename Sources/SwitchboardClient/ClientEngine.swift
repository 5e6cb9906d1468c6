import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// The driver of ``ClientProtocolMachine``: it feeds the machine the application's calls, the transport's
/// events and its timers' firings, and carries out what the machine answers (open or close a WebSocket,
/// send a command, arm a timer, settle a caller, deliver to a subscription). Every decision is the
/// machine's; this actor only owns the sockets, tasks and continuations.
actor ClientEngine {
    /// One open transport: a WebSocket and its writer, or Server-Sent Events with commands as POSTs.
    private enum Link {
        case webSocket(WebSocketConnection, WireEncoding, outbox: AsyncStream<WebSocketMessage>.Continuation)
        case sse(SSELink)

        func send(_ command: ClientCommand) {
            switch self {
            case .webSocket(_, .json, let outbox):
                // Commands are plain Codable values; encoding them cannot fail.
                let json = try! JSONEncoder().encode(command)
                outbox.yield(.text(String(decoding: json, as: UTF8.self)))
            case .webSocket(_, .protobuf, let outbox):
                outbox.yield(.binary(command.protobufEncoded()))
            case .sse(let link):
                link.send(command)
            }
        }

        func close(_ code: CloseCode) {
            switch self {
            case .webSocket(let connection, _, let outbox):
                outbox.finish()
                Task { await connection.close(code: code) }
            case .sse(let link):
                link.close()
            }
        }

        /// Stops writing; the transport is already closed.
        func finish() {
            switch self {
            case .webSocket(_, _, let outbox): outbox.finish()
            case .sse(let link): link.close()
            }
        }
    }

    nonisolated let broadcaster = StateBroadcaster(.disconnected(.notConnected))
    private let url: String
    private let configuration: RealtimeClientConfiguration
    private let logger: Logger
    private var machine: ClientProtocolMachine

    /// Attempts still opening, and open transports, by generation.
    private var openers: [Int: Task<Void, Never>] = [:]
    private var links: [Int: Link] = [:]
    /// Armed timers; the serial tells a replaced timer's late firing from the current one's.
    private var timers: [ClientTimer: (serial: UInt64, task: Task<Void, Never>)] = [:]
    private var timerSerial: UInt64 = 0
    private var connectWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    private var requests: [RequestID: CheckedContinuation<ServerMessage.Reply?, any Error>] = [:]
    private var sinks: [String: SubscriptionSink] = [:]
    private var nextID: UInt64 = 0
    /// The token of the current connection, refreshed with it: an SSE link authenticates each command.
    private let latestToken = NIOLockedValueBox<String?>(nil)

    init(url: String, configuration: RealtimeClientConfiguration, logger: Logger) {
        self.url = url
        self.configuration = configuration
        self.logger = logger
        self.machine = ClientProtocolMachine(settings: .init(configuration), random: { Double.random(in: 0..<1) })
    }

    // MARK: - The application's calls

    func connect() async throws {
        let id = self.newID()
        // Cancelling the caller ends its wait, not the client's attempts: `disconnect()` does that.
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled { return continuation.resume(throwing: CancellationError()) }
                self.connectWaiters[id] = continuation
                self.feed(.connect)
            }
        } onCancel: {
            Task { await self.connectWaitCancelled(id) }
        }
    }

    private func connectWaitCancelled(_ id: UInt64) {
        self.connectWaiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    func disconnect() {
        self.feed(.disconnect)
    }

    func publish(_ data: RawJSON, to channel: String) async throws -> StreamPosition {
        let reply = try await self.call { .publish($0, channel: channel, data: data, key: UUID().uuidString) }
        guard case .publish(let result)? = reply else { throw Self.unexpected(reply, to: "publish") }
        return StreamPosition(offset: result.offset, epoch: result.epoch)
    }

    func subscribe<Value: Decodable & Sendable>(_ channel: String, as type: Value.Type) async throws -> Subscription<Value> {
        let (sink, subscription) = SubscriptionSink.make(channel: channel, as: type, engine: self)
        // The machine refuses a second subscription to the channel, so the first one's sink stays; a refusal
        // by the server ends the new one with `deliver(.finished)`, which removes its sink.
        if self.sinks[channel] == nil { self.sinks[channel] = sink }
        _ = try await self.call { .subscribe($0, channel: channel, since: nil) }
        return subscription
    }

    func unsubscribe(_ channel: String) async throws {
        _ = try await self.call { .unsubscribe($0, channel: channel) }
    }

    /// A command that needs a live connection (presence, history): no queueing.
    func request(_ body: ClientCommand.Body) async throws -> ServerMessage.Reply {
        let reply = try await self.call { .request($0, body) }
        guard let reply else { throw RealtimeClientError.serverError.with(message: "the server answered nothing") }
        return reply
    }

    /// For tests: how many publications wait for a connection.
    var queuedPublishCount: Int { self.machine.queuedPublishCount }

    private func call(_ input: (RequestID) -> ClientProtocolMachine.Input) async throws -> ServerMessage.Reply? {
        let request = RequestID(self.newID())
        return try await withCheckedThrowingContinuation { continuation in
            self.requests[request] = continuation
            self.feed(input(request))
        }
    }

    private func newID() -> UInt64 {
        self.nextID += 1
        return self.nextID
    }

    // MARK: - The machine

    private func feed(_ input: ClientProtocolMachine.Input) {
        for output in self.machine.handle(input) { self.perform(output) }
    }

    private func perform(_ output: ClientProtocolMachine.Output) {
        switch output {
        case .openTransport(let generation, .webSocket):
            self.open(generation)
        case .openTransport(let generation, .sse):
            self.openSSE(generation)
        case .closeTransport(let generation, let code):
            self.openers.removeValue(forKey: generation)?.cancel()
            self.links.removeValue(forKey: generation)?.close(code)
        case .send(let command):
            self.links[self.machine.generation]?.send(command)
        case .arm(let timer, let delay):
            self.arm(timer, after: delay)
        case .cancel(let timer):
            self.timers.removeValue(forKey: timer)?.task.cancel()
        case .fetchRefreshToken(let generation):
            let tokenProvider = self.configuration.tokenProvider
            let latestToken = self.latestToken
            Task {
                let token = try? await tokenProvider()
                if let token { latestToken.withLockedValue { $0 = token } }
                await self.feed(.refreshToken(generation: generation, token))
            }
        case .state(let state):
            if case .reconnecting(let attempt, let delay) = state {
                self.logger.debug("Reconnecting", metadata: ["attempt": "\(attempt)", "delay": "\(delay)"])
            }
            self.broadcaster.publish(state)
        case .settleConnect(let outcome):
            let waiters = self.connectWaiters.values
            self.connectWaiters = [:]
            for waiter in waiters { waiter.resume(with: outcome.mapError { $0 as any Error }) }
        case .settle(let request, let outcome):
            self.requests.removeValue(forKey: request)?.resume(with: outcome.mapError { $0 as any Error })
        case .deliver(let channel, .publication(let publication)):
            self.sinks[channel]?.deliver(publication)
        case .deliver(let channel, .event(let event)):
            self.sinks[channel]?.event(event)
        case .deliver(_, .subscribed):
            break  // the subscribe call's own answer says so
        case .deliver(let channel, .finished(let error)):
            self.sinks.removeValue(forKey: channel)?.finish(error)
        }
    }

    private func arm(_ timer: ClientTimer, after delay: Duration) {
        self.timers[timer]?.task.cancel()
        self.timerSerial += 1
        let serial = self.timerSerial
        let task = Task {
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            self.fired(timer, serial: serial)
        }
        self.timers[timer] = (serial, task)
    }

    private func fired(_ timer: ClientTimer, serial: UInt64) {
        guard self.timers[timer]?.serial == serial else { return }
        self.timers.removeValue(forKey: timer)
        self.feed(.timerFired(timer))
    }

    // MARK: - The transport

    private func open(_ generation: Int) {
        let url = self.url
        let tokenProvider = self.configuration.tokenProvider
        let encoding = self.configuration.encoding
        let compression = self.configuration.compression
        self.openers[generation] = Task {
            do {
                let token = try await tokenProvider()
                // JSON offers no subprotocol: any node takes it, whatever its version.
                var transport = WebSocketClientConfiguration(subprotocols: encoding == .json ? [] : [encoding.subprotocol], connectTimeout: .seconds(5))
                // Recovery replies can carry thousands of publications; heartbeats are the protocol's `ping`.
                transport.connection = WebSocketConfiguration(limits: .echoServer, deflate: compression ? PerMessageDeflateConfiguration() : nil,
                                                              heartbeat: nil, closeTimeout: .seconds(2))
                let connection = try await WebSocketClient.connect(to: url, configuration: transport)
                self.opened(connection, token: token, generation: generation)
            } catch {
                self.openFailed(error, generation: generation)
            }
        }
    }

    /// The permessage-deflate the open WebSocket's handshake agreed; nil without one or without agreement.
    var webSocketDeflate: PerMessageDeflateParameters? { self.openWebSocket?.connection.deflate }

    /// The encoding the open WebSocket's handshake chose; nil without one (tests check the negotiation).
    var webSocketEncoding: WireEncoding? { self.openWebSocket?.encoding }

    private var openWebSocket: (connection: WebSocketConnection, encoding: WireEncoding)? {
        for link in self.links.values {
            if case .webSocket(let connection, let encoding, _) = link { return (connection, encoding) }
        }
        return nil
    }

    private func opened(_ connection: WebSocketConnection, token: String?, generation: Int) {
        self.openers.removeValue(forKey: generation)
        let (outbox, continuation) = AsyncStream<WebSocketMessage>.makeStream()
        // What the node chose: a node that does not speak protobuf answers an offer of it in JSON.
        let encoding = WireEncoding(negotiated: connection.subprotocol)
        self.links[generation] = .webSocket(connection, encoding, outbox: continuation)
        // One writer per connection keeps commands in the order they were issued (the send queue's promise).
        // Detached: the connection's own async API does its work on the event loop, not on this actor.
        Task.detached {
            for await message in outbox {
                do { try await connection.send(message) } catch { break }
            }
        }
        Task.detached {
            let decoder = JSONDecoder()
            for await message in connection.inbound {
                let decoded: ServerMessage? = switch (encoding, message.kind) {
                case (.json, .text): try? decoder.decode(ServerMessage.self, from: Data(message.data.readableBytesView))
                case (.protobuf, .binary): try? ServerMessage.decode(protobuf: message.data.readableBytesView)
                case (.json, .binary), (.protobuf, .text): nil
                }
                guard let decoded else { continue }
                await self.feed(.received(generation: generation, decoded))
            }
            let status = await connection.closeStatus
            await self.closed(status, generation: generation)
        }
        self.latestToken.withLockedValue { $0 = token }
        self.feed(.transportOpened(generation: generation, token: token))
    }

    private func openSSE(_ generation: Int) {
        let url = self.url
        let tokenProvider = self.configuration.tokenProvider
        let latestToken = self.latestToken
        self.openers[generation] = Task {
            do {
                let endpoints = try NodeEndpoints(webSocketURL: url)
                let token = try await tokenProvider()
                latestToken.withLockedValue { $0 = token }
                let handlers = SSELink.Handlers(
                    message: { message in await self.feed(.received(generation: generation, message)) },
                    closed: { code, reason in await self.sseClosed(code: code, reason: reason, generation: generation) })
                let link = try await SSELink.open(endpoints, token: token, timeout: .seconds(5),
                                                  currentToken: { latestToken.withLockedValue { $0 } }, handlers: handlers)
                self.sseOpened(link, token: token, generation: generation)
            } catch {
                self.openFailed(error, generation: generation)
            }
        }
    }

    private func sseOpened(_ link: SSELink, token: String?, generation: Int) {
        guard self.openers.removeValue(forKey: generation) != nil else { return link.close() }
        self.links[generation] = .sse(link)
        self.feed(.transportOpened(generation: generation, token: token))
    }

    private func sseClosed(code: UInt16, reason: String, generation: Int) {
        self.links.removeValue(forKey: generation)?.finish()
        self.logger.debug("Event stream closed", metadata: ["code": "\(code)", "reason": "\(reason)"])
        self.feed(.transportClosed(generation: generation, code: code, reason: reason))
    }

    private func openFailed(_ error: any Error, generation: Int) {
        guard self.openers.removeValue(forKey: generation) != nil else { return }
        self.logger.debug("Connect attempt failed", metadata: ["error": "\(error)"])
        let retryAfter = (error as? WebSocketTransportError)?.retryAfter ?? (error as? SSELink.OpenFailure)?.retryAfter
        self.feed(.transportFailed(generation: generation, reason: "\(error)", retryAfter: retryAfter))
    }

    private func closed(_ status: WebSocketCloseStatus, generation: Int) {
        self.links.removeValue(forKey: generation)?.finish()
        self.logger.debug("Connection closed", metadata: ["code": "\(status.code.rawValue)", "reason": "\(status.reason)"])
        self.feed(.transportClosed(generation: generation, code: status.code.rawValue, reason: status.reason))
    }

    private static func unexpected(_ reply: ServerMessage.Reply?, to command: String) -> RealtimeClientError {
        RealtimeClientError.serverError.with(message: "the server answered \(command) with \(reply.map { "\($0)" } ?? "nothing")")
    }
}
