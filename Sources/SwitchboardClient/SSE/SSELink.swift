import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SwitchboardProtocol

/// The protocol over Server-Sent Events (PROTOCOL.md, "Server-Sent Events fallback"), for networks that
/// block WebSocket: pushes and the connect reply arrive on an event stream, commands go one at a time as
/// POSTs whose responses are their answers. switchboard.js's SSE link, in Swift.
///
/// Opening is the stream's request: with a token, a connect ticket first (a JWT never goes in a URL), then
/// `GET /connection/sse?ticket=…`. A node that refuses the stream for now (429, 503) fails the attempt with
/// its `Retry-After`; a refused credential is the `connect` command's answer, as over a WebSocket. The stream
/// is the connect, so the machine's `connect` command is not sent: its id is given to the stream's connect
/// reply (id 0), and only then are events read.
final class SSELink: Sendable {
    struct Handlers: Sendable {
        var message: @Sendable (ServerMessage) async -> Void
        var closed: @Sendable (_ code: UInt16, _ reason: String) async -> Void
    }

    /// Why the stream could not be opened, for the machine's `transportFailed`.
    struct OpenFailure: Error, CustomStringConvertible {
        var reason: String
        var retryAfter: Int?
        var description: String { self.reason }
    }

    private struct State {
        var closed = false
        var client: String?
        /// The answer to `connect` when the node refused the credential before the stream.
        var refusal: ServerMessage.ProtocolError?
        var tasks: [Task<Void, Never>] = []
    }

    /// A command connection idle for this long is replaced before the next command: the node closes idle
    /// keep-alive connections after 60 s, and a command sent as it does so could be lost.
    static let commandConnectionIdleLimit: Duration = .seconds(30)

    private let endpoints: NodeEndpoints
    private let timeout: TimeAmount
    private let currentToken: @Sendable () -> String?
    private let handlers: Handlers
    private let state = NIOLockedValueBox(State())
    private let commands: AsyncStream<ClientCommand>.Continuation
    private let connectIDs: AsyncStream<UInt64>.Continuation

    /// Links not yet freed, by the node's port, for tests: a link whose attempt failed must not live on in a
    /// waiting task.
    static let alive = NIOLockedValueBox<[Int: Int]>([:])

    deinit {
        let port = self.endpoints.port
        Self.alive.withLockedValue { $0[port, default: 0] -= 1 }
    }

    private init(endpoints: NodeEndpoints, timeout: TimeAmount, currentToken: @escaping @Sendable () -> String?, handlers: Handlers,
                 commands: AsyncStream<ClientCommand>.Continuation, connectIDs: AsyncStream<UInt64>.Continuation) {
        self.endpoints = endpoints
        self.timeout = timeout
        self.currentToken = currentToken
        self.handlers = handlers
        self.commands = commands
        self.connectIDs = connectIDs
        Self.alive.withLockedValue { $0[endpoints.port, default: 0] += 1 }
    }

    /// Opens the stream; returns once the node has accepted it (or refused the credential, which the
    /// `connect` command then learns). Throws ``OpenFailure`` when the attempt failed.
    static func open(_ endpoints: NodeEndpoints, token: String?, timeout: TimeAmount, currentToken: @escaping @Sendable () -> String?,
                     handlers: Handlers) async throws -> SSELink {
        let (commands, commandInput) = AsyncStream<ClientCommand>.makeStream()
        let (connectIDs, connectInput) = AsyncStream<UInt64>.makeStream()
        let link = SSELink(endpoints: endpoints, timeout: timeout, currentToken: currentToken, handlers: handlers,
                           commands: commandInput, connectIDs: connectInput)
        do {
            try await withCheckedThrowingContinuation { (opened: CheckedContinuation<Void, any Error>) in
                let stream = Task { await link.runStream(token: token, connectIDs: connectIDs, opened: opened) }
                let poster = Task { await link.runCommands(commands) }
                link.state.withLockedValue { $0.tasks = [stream, poster] }
            }
        } catch {
            // Nobody will use this link: its command task must not wait for commands forever.
            link.close()
            throw error
        }
        return link
    }

    /// Sends `command`; its answer comes through the handlers. Call in the order commands are issued.
    func send(_ command: ClientCommand) {
        if case .connect = command.body {
            let refusal = self.state.withLockedValue { $0.refusal }
            if let refusal {
                let handlers = self.handlers
                Task { await handlers.message(.error(id: command.id, refusal)) }
            } else {
                self.connectIDs.yield(command.id)
            }
            return
        }
        self.commands.yield(command)
    }

    /// Ends the link without telling the handlers (the driver closed it).
    func close() {
        let tasks = self.state.withLockedValue { state -> [Task<Void, Never>] in
            state.closed = true
            return state.tasks
        }
        self.commands.finish()
        self.connectIDs.finish()
        for task in tasks { task.cancel() }
    }

    private var isClosed: Bool { self.state.withLockedValue { $0.closed } }

    /// The link failed: tells the handlers once, with a close code as a WebSocket would have had.
    private func end(_ code: UInt16, _ reason: String) async {
        guard !self.isClosed else { return }
        self.close()
        await self.handlers.closed(code, reason)
    }

    // MARK: - The stream

    private func runStream(token: String?, connectIDs: AsyncStream<UInt64>, opened: CheckedContinuation<Void, any Error>) async {
        var opened: CheckedContinuation<Void, any Error>? = opened
        do {
            var target = self.endpoints.ssePath
            if let token {
                switch try await self.ticket(for: token) {
                case .ticket(let ticket):
                    target += "?ticket=" + ticket.queryComponentEncoded
                case .refused(let refusal):
                    self.state.withLockedValue { $0.refusal = refusal }
                    opened?.resume()
                    return
                }
            }
            let channel = try await NodeHTTP.connect(to: self.endpoints, timeout: self.timeout)
            try await channel.executeThenClose { inbound, outbound in
                let head = NodeHTTP.request(.GET, target, endpoints: self.endpoints,
                                            headers: [("Accept", "text/event-stream"), ("Cache-Control", "no-cache")])
                try await outbound.write(.head(head))
                try await outbound.write(.end(nil))
                var parts = inbound.makeAsyncIterator()
                guard case .head(let response)? = try await parts.next() else {
                    throw NodeHTTPError.connectionClosed(during: "the event stream's response")
                }
                guard response.status == .ok else {
                    var body = ByteBuffer()
                    while let part = try await parts.next(), case .body(var bytes) = part, body.readableBytes < 65_536 {
                        body.writeBuffer(&bytes)
                    }
                    let refusal = Self.refusal(status: response.status, headers: response.headers, body: body)
                    if let error = refusal.error {
                        self.state.withLockedValue { $0.refusal = error }
                        opened?.resume()
                    } else {
                        opened?.resume(throwing: OpenFailure(reason: refusal.reason, retryAfter: refusal.retryAfter))
                    }
                    opened = nil
                    return
                }
                opened?.resume()
                opened = nil
                // Nothing is read until the machine has sent `connect`: its id answers the stream's connect.
                var ids = connectIDs.makeAsyncIterator()
                guard let connectID = await ids.next() else { return }
                var parser = EventStreamParser()
                let decoder = JSONDecoder()
                while let part = try await parts.next() {
                    guard case .body(let bytes) = part else { break }
                    for event in try parser.feed(bytes.readableBytesView) {
                        await self.received(event, connectID: connectID, decoder: decoder)
                        if self.isClosed { return }
                    }
                }
            }
            await self.end(1006, "the event stream ended")
        } catch {
            if let opened {
                let reason = error is NodeHTTPError ? "\(error)" : "cannot open the event stream: \(error)"
                opened.resume(throwing: OpenFailure(reason: reason, retryAfter: nil))
            } else {
                await self.end(1006, "the event stream failed: \(error)")
            }
        }
    }

    private func received(_ event: EventStreamParser.Event, connectID: UInt64, decoder: JSONDecoder) async {
        guard let message = try? decoder.decode(ServerMessage.self, from: Data(event.data.utf8)) else { return }
        switch message {
        case .reply(0, .connect(let result)):
            self.state.withLockedValue { $0.client = result.client }
            await self.handlers.message(.reply(id: connectID, .connect(result)))
        case .error(0?, let error):
            await self.handlers.message(.error(id: connectID, error))
        case .disconnect(let disconnect):
            await self.handlers.message(message)
            await self.end(disconnect.code.rawValue, disconnect.reason)
        default:
            await self.handlers.message(message)
        }
    }

    /// `POST /connection/ticket` with the token: the ticket, or the node's refusal of the token.
    private func ticket(for token: String) async throws -> TicketOutcome {
        let channel = try await NodeHTTP.connect(to: self.endpoints, timeout: self.timeout)
        let response = try await channel.executeThenClose { inbound, outbound in
            var responses = inbound.makeAsyncIterator()
            let head = NodeHTTP.request(.POST, self.endpoints.ticketPath, endpoints: self.endpoints,
                                        headers: [("Authorization", "Bearer \(token)"), ("Connection", "close")])
            return try await NodeHTTP.exchange(head, body: nil, outbound: outbound, responses: &responses)
        }
        struct Ticket: Decodable { var ticket: String }
        if response.status == .ok, let answer = try? JSONDecoder().decode(Ticket.self, from: Data(response.body.readableBytesView)) {
            return .ticket(answer.ticket)
        }
        let refusal = Self.refusal(status: response.status, headers: response.headers, body: response.body)
        guard let error = refusal.error else { throw OpenFailure(reason: refusal.reason, retryAfter: refusal.retryAfter) }
        return .refused(error)
    }

    /// The body of the node's HTTP errors (PROTOCOL.md, "HTTP API"): `{"error":{"code":…,"message":…}}`.
    private struct ErrorBody: Decodable {
        var error: ServerMessage.ProtocolError
    }

    private enum TicketOutcome {
        case ticket(String)
        /// The token was refused: the connect command's answer.
        case refused(ServerMessage.ProtocolError)
    }

    /// A refused request: a credential or permission refusal is the connect command's answer (the machine
    /// decides whether to go on); anything else, busy nodes (429, 503) included, fails the attempt.
    private static func refusal(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer)
        -> (error: ServerMessage.ProtocolError?, reason: String, retryAfter: Int?) {
        let decoded = try? JSONDecoder().decode(ErrorBody.self, from: Data(body.readableBytesView))
        let reason = "the node answered \(status.code)" + (decoded.map { ": \($0.error.message)" } ?? "")
        if [.unauthorized, .forbidden, .badRequest].contains(status), let decoded {
            return (decoded.error, reason, nil)
        }
        return (nil, reason, headers.first(name: "Retry-After").flatMap { Int($0) })
    }

    // MARK: - Commands

    /// One POST at a time, in order: the node runs commands in arrival order, and parallel requests could
    /// overtake each other. A keep-alive connection carries them, replaced when the node closes it or it
    /// has been idle too long.
    private func runCommands(_ commands: AsyncStream<ClientCommand>) async {
        var pending = commands.makeAsyncIterator()
        var next = await pending.next()
        while next != nil, !self.isClosed {
            do {
                let channel = try await NodeHTTP.connect(to: self.endpoints, timeout: self.timeout)
                try await channel.executeThenClose { inbound, outbound in
                    var responses = inbound.makeAsyncIterator()
                    var lastUsed = ContinuousClock.now
                    while let command = next {
                        guard ContinuousClock.now - lastUsed < Self.commandConnectionIdleLimit else { return }
                        let response = try await self.post(command, outbound: outbound, responses: &responses)
                        lastUsed = ContinuousClock.now
                        if response.status == .notFound {
                            // PROTOCOL.md: no SSE session with that client id on this node; the stream is gone.
                            return await self.end(1006, "the node no longer knows this stream")
                        }
                        await self.handlers.message(Self.answer(to: command, from: response))
                        if self.isClosed { return }
                        next = await pending.next()
                        if response.headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "close" }) { return }
                    }
                }
            } catch {
                return await self.end(1006, "a command failed: \(error)")
            }
        }
    }

    private func post(_ command: ClientCommand, outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
                      responses: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator) async throws -> NodeHTTPResponse {
        let client = self.state.withLockedValue { $0.client } ?? ""
        var headers: [(String, String)] = []
        if let token = self.currentToken() { headers.append(("Authorization", "Bearer \(token)")) }
        // Commands are plain Codable values; encoding them cannot fail.
        let body = ByteBuffer(bytes: try! JSONEncoder().encode(command))
        let head = NodeHTTP.request(.POST, "\(self.endpoints.commandPath)?client=\(client.queryComponentEncoded)",
                                    endpoints: self.endpoints, headers: headers, body: body)
        return try await NodeHTTP.exchange(head, body: body, outbound: outbound, responses: &responses)
    }

    /// The command's reply or error from the response body; an HTTP error's body holds the protocol's code.
    private static func answer(to command: ClientCommand, from response: NodeHTTPResponse) -> ServerMessage {
        let data = Data(response.body.readableBytesView)
        if let message = try? JSONDecoder().decode(ServerMessage.self, from: data) { return message }
        if let refusal = try? JSONDecoder().decode(ErrorBody.self, from: data) { return .error(id: command.id, refusal.error) }
        return .error(id: command.id, .init(code: .internalError, message: "the node answered \(response.status.code) without a reply"))
    }
}
