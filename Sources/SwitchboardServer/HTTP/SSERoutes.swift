import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwitchboardProtocol

/// The Server-Sent Events fallback, for networks where WebSocket is blocked.
///
/// `GET /connection/sse?token=…&channel=a&channel=b` opens a stream: the connect reply, then a subscribe
/// reply per channel, then publications, each an event whose `data` is the protocol's JSON. The browser
/// sends `Last-Event-ID` when it reconnects (or the page passes `lastEventId=`): every channel resumes
/// where it stopped. Commands go to `POST /connection/sse/command?client=<id>` with the same token, and
/// the reply is the response body.
struct SSERoutes {
    let context: ServerContext
    let limiter: ConnectionLimiter
    let origins: OriginPolicy

    static let streamPath = "/connection/sse"
    static let commandPath = "/connection/sse/command"

    func register(on router: Router<SwitchboardRequestContext>) {
        router.get("connection/sse") { request, requestContext in
            try await self.openStream(request, requestContext)
        }
        router.post("connection/sse/command") { request, _ in
            try await self.command(request)
        }
    }

    private func openStream(_ request: Request, _ requestContext: SwitchboardRequestContext) async throws -> Response {
        if case .refuse(let reason) = self.origins.decide(origin: request.headers[.origin], host: request.head.authority) {
            throw APIError(.forbidden, reason)
        }
        let channels = Self.channels(in: request)
        guard channels.count <= self.context.limits.maxChannelsPerClient else {
            throw APIError(.tooManyChannels, "at most \(self.context.limits.maxChannelsPerClient) channels per client")
        }
        let client = self.context.clientAddresses.clientAddress(
            peer: requestContext.remoteIP, forwardedFor: request.headers[values: HTTPField.Name("X-Forwarded-For")!])
        if let refusal = self.context.admitConnection() {
            throw APIError(.unavailable, refusal.reason, retryAfter: refusal.retryAfter)
        }
        let lease: ConnectionLease
        switch self.limiter.acquire(ip: client) {
        case .success(let acquired): lease = acquired
        case .failure(let refusal):
            self.context.metrics.connectionRefused(.init(refusal))
            throw APIError(refusal.httpStatus == 429 ? .tooManyFromAddress : .tooManyInTotal, refusal.reason)
        }
        let credential: ConnectionCredential?
        do {
            credential = try await self.credential(of: request)
        } catch {
            lease.release()
            throw error
        }
        let resume = SSEEventID.resume(request.headers[values: HTTPField.Name("Last-Event-ID")!].first
            ?? request.uri.queryParameters.get("lastEventId"), channels: channels)
        let eventLoop = requestContext.channel.eventLoop
        let transport = SSESessionTransport(channel: requestContext.channel, maximumQueuedBytes: self.context.limits.maxOutboundBytes)
        let context = self.context
        let session = eventLoop.submit {
            let session = ClientSession(context: context, eventLoop: eventLoop, transport: transport, remoteAddress: client)
            transport.session = session
            // The stream starts like a WebSocket client would: connect, then one subscribe per channel.
            session.opened(credential: credential)
            session.enqueue(ClientCommand(id: 0, .connect(.init())))
            for (index, channel) in channels.enumerated() {
                session.enqueue(ClientCommand(id: UInt64(index + 1), .subscribe(.init(channel: channel, since: resume[channel]))))
            }
            return session
        }
        let heartbeat = TimeAmount.seconds(Int64(self.context.configuration.pingInterval))
        let body = ResponseBody { writer in
            // Holds the session for as long as the stream is open.
            let session = try await session.get()
            context.metrics.connectionOpened(.sse)
            let pings = eventLoop.scheduleRepeatedTask(initialDelay: heartbeat, delay: heartbeat) { _ in transport.sendHeartbeat() }
            defer {
                pings.cancel()
                transport.finish()
                eventLoop.execute { session.transportClosed() }
                lease.release()
                context.metrics.connectionClosed(.sse, code: transport.closeCode)
            }
            // Tells EventSource how long to wait before reconnecting (ms).
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            for await event in transport.events {
                try await writer.write(event)
                transport.wrote(event.readableBytes)
            }
            try await writer.finish(nil)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        // nginx and other buffering proxies must pass events through at once.
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: body)
    }

    private func command(_ request: Request) async throws -> Response {
        if case .refuse(let reason) = self.origins.decide(origin: request.headers[.origin], host: request.head.authority) {
            throw APIError(.forbidden, reason)
        }
        guard let client = request.uri.queryParameters.get("client"),
              let session = self.context.sessions.session(client: client) else {
            throw APIError(.unknownSession, "no SSE session with that client id on this node")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: self.context.limits.maxMessageSize)
        } catch {
            throw APIError(.tooLarge, "command over \(self.context.limits.maxMessageSize) bytes")
        }
        let token = request.uri.queryParameters.get("token") ?? Self.bearerToken(request)
        let verifier = self.context.verifier
        let now = self.context.now()
        // The client id travels in URLs; the token proves the command comes from the session's user.
        let user = try await session.eventLoop.submit { session.identity?.user }.get()
        guard let user else { throw APIError(.notConnected, "the session is not connected yet") }
        if !user.isEmpty {
            switch verifier.check(token, now: now) {
            case .success(let credentials) where credentials.user == user: break
            case .success: throw APIError(.forbidden, "the token is for another user")
            case .failure(let error): throw APIError(.init(code: error.errorCode, message: error.message))
            }
        }
        let reply: ServerMessage
        switch ClientCommand.decode(body.readableBytesView) {
        case .failure(let error):
            reply = .error(id: error.id, .init(code: error.code, message: error.message))
        case .success(let command):
            let promise = session.eventLoop.makePromise(of: ServerMessage.self)
            session.eventLoop.execute {
                session.execute(command) { promise.succeed($0) }
            }
            reply = try await promise.futureResult.get()
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ServerMessageEncoder.encode(reply)))
    }

    /// What authenticates the stream. A ticket is redeemed now, so that a refused one is an HTTP error the
    /// page can read, and EventSource does not retry it.
    private func credential(of request: Request) async throws -> ConnectionCredential? {
        let query = request.uri.queryParameters
        let credential: ConnectionCredential?
        do {
            credential = try ConnectionCredential.fromQuery(token: query.get("token").map { String($0) }, ticket: query.get("ticket").map { String($0) })
                ?? Self.bearerToken(request).flatMap { $0.isEmpty ? nil : .token($0) }
        } catch {
            throw APIError(.invalidRequest, "\(error)")
        }
        switch credential {
        case .ticket(let ticket)?:
            do {
                return .verified(try await self.context.redeemTicket(ticket))
            } catch let refusal as TicketRefusal {
                throw APIError(.ticketRefused, refusal.message)
            } catch {
                throw APIError(.unavailable, "cannot check the ticket: \(error)")
            }
        case nil where !self.context.configuration.auth.allowAnonymous:
            // An EventSource cannot send a connect command: without a credential (where one is needed) say so now.
            throw APIError(.unauthorized, "a credential is required: pass a ticket (POST \(TicketRoute.path)) or a token as a query parameter")
        default:
            return credential
        }
    }

    /// `channel=a&channel=b` or `channels=a,b`.
    static func channels(in request: Request) -> [String] {
        var channels = request.uri.queryParameters.getAll("channel").map { String($0) }
        if let list = request.uri.queryParameters.get("channels") {
            channels += list.split(separator: ",").map { String($0) }
        }
        var seen = Set<String>()
        return channels.filter { seen.insert($0).inserted }
    }

    static func bearerToken(_ request: Request) -> String? {
        guard let authorization = request.headers[.authorization], authorization.lowercased().hasPrefix("bearer ") else { return nil }
        return String(authorization.dropFirst("bearer ".count))
    }
}
