import Logging
import NIOCore
import SwitchboardWebSocket

/// What a connection serving plain HTTP needs: where its request stream is, and how to take it back.
/// A class, so the handler's phase holds a reference: inline, this largest case would make every
/// connection's handler bigger, WebSocket connections included.
final class HTTPServing {
    var framing: HTTPRequestFraming
    /// The bytes of a request head not complete yet (passed on once it is, unless it switches protocols).
    var pendingHead = ByteBuffer()
    let release: WebSocketServer.HTTPRelease

    init(framing: HTTPRequestFraming, release: @escaping WebSocketServer.HTTPRelease) {
        self.framing = framing
        self.release = release
    }
}

/// Serving plain HTTP through the server's HTTP handover. A WebSocket connection never carries HTTP
/// handlers (they would be memory every idle connection holds); a connection whose first request is plain
/// HTTP gets them behind this handler, which passes them each request and watches for one that switches
/// protocols: an upgrade on a later keep-alive request comes back to WebSocket.
extension WebSocketChannelHandler {
    /// Appends one read to the reads kept while a request head is incomplete. The first is kept as it is
    /// (no copy: `ByteBuffer` shares its storage); only a head split over several reads is copied together.
    static func keep(_ read: ByteBuffer, in earlierReads: inout ByteBuffer) {
        if earlierReads.readableBytes == 0 {
            earlierReads = read
        } else {
            var read = read
            earlierReads.writeBuffer(&read)
        }
    }

    /// Lets `handover` install its handlers behind this one, passes them the first request's `head` (its
    /// bytes as received), then what follows it in `input`. Runs inside `channelRead`, so no later read can
    /// overtake these bytes.
    func handOver(to handover: WebSocketServer.HTTPHandover, request: HandshakeRequest, head: ByteBuffer,
                  following input: inout ByteBuffer) {
        guard case .channel(let context) = self.io else {
            preconditionFailure("Internal inconsistency: an HTTP handover on a connection that is not a NIO channel")
        }
        self.cancelTimers()
        self.output = ByteBuffer()
        let channel = context.channel
        // Before the hook runs: the handed-over connection must stay known to shutdown from now on.
        self.registry?.handOver(channel)
        let release: WebSocketServer.HTTPRelease
        do {
            release = try handover(channel)
        } catch {
            self.logger.debug("The HTTP handover failed; closing the connection",
                              metadata: ["error": "\(error)", "peer": "\(self.remoteAddress.map { "\($0)" } ?? "?")"])
            self.phase = .closed
            context.close(promise: nil)
            return
        }
        let serving = HTTPServing(framing: HTTPRequestFraming(following: request, maximumHeadSize: self.settings.maximumHandshakeSize),
                                  release: release)
        serving.pendingHead = head
        self.phase = .servingHTTP(serving)
        self.passHead(of: request, rest: &input)
        self.serveHTTP(&input)
    }

    /// Passes `input` on to the HTTP handlers request by request, until a request switches protocols.
    func serveHTTP(_ input: inout ByteBuffer) {
        guard case .channel(let context) = self.io else { return }
        while input.readableBytes > 0, case .servingHTTP(let serving) = self.phase {
            let before = input  // shares the storage; keeps the consumed bytes readable
            let step = serving.framing.advance(&input)
            let consumed = before.getSlice(at: before.readerIndex, length: input.readerIndex - before.readerIndex)!
            switch step {
            case .partOfHead:
                Self.keep(consumed, in: &serving.pendingHead)
            case .body:
                context.fireChannelRead(self.wrapInboundOut(consumed))
            case .head(let request):
                Self.keep(consumed, in: &serving.pendingHead)
                self.passHead(of: request, rest: &input)
            case .lost(let reason):
                // The HTTP handlers get everything as it comes and answer it themselves (a 400, then close).
                if serving.pendingHead.readableBytes + consumed.readableBytes > 0 {
                    self.logger.debug("Lost the framing of an HTTP request stream", metadata: ["reason": "\(reason)"])
                }
                var rest = serving.pendingHead
                var consumed = consumed
                rest.writeBuffer(&consumed)  // what the parser took before it refused
                rest.writeBuffer(&input)
                serving.pendingHead = ByteBuffer()
                context.fireChannelRead(self.wrapInboundOut(rest))
            }
        }
    }

    /// `request`'s head is complete in the pending bytes: passes it on, or holds it and what follows when
    /// the request switches protocols.
    private func passHead(of request: HandshakeRequest, rest input: inout ByteBuffer) {
        guard case .servingHTTP(let serving) = self.phase, case .channel(let context) = self.io else { return }
        let head = serving.pendingHead
        serving.pendingHead = ByteBuffer()
        if request.asksForWebSocketUpgrade {
            var held = head
            held.writeBuffer(&input)
            self.release(serving.release, holding: held, upgrade: true)
            return
        }
        context.fireChannelRead(self.wrapInboundOut(head))
        if request.switchesProtocols {
            // NIOHTTP1 reads nothing after such a request: once it is answered, the connection ends.
            var held = ByteBuffer()
            held.writeBuffer(&input)
            self.release(serving.release, holding: held, upgrade: false)
        }
    }

    private func release(_ release: WebSocketServer.HTTPRelease, holding held: ByteBuffer, upgrade: Bool) {
        self.phase = .releasingHTTP(held: held, upgrade: upgrade)
        self.setReadingPaused(true, by: .httpRelease)
        let released = self.eventLoop.makePromise(of: Void.self)
        released.futureResult.assumeIsolated().whenComplete { [self] result in self.httpReleased(result) }
        release(released)
    }

    private func httpReleased(_ result: Result<Void, any Error>) {
        guard case .releasingHTTP(var held, let upgrade) = self.phase, case .channel(let context) = self.io else { return }
        guard upgrade, case .success = result else {
            self.phase = .closed
            context.close(promise: nil)
            return
        }
        self.registry?.takeBack(context.channel)
        // The held bytes start with the upgrade request's whole head: the handshake completes at once.
        self.phase = .awaitingRequest(HTTPHeadParser(kind: .request, maximumSize: self.settings.maximumHandshakeSize),
                                      earlierReads: ByteBuffer())
        self.inReadBatch = true
        self.receive(&held)
        self.inReadBatch = false
        self.flushOutput()
        self.setReadingPaused(false, by: .httpRelease)
    }
}
