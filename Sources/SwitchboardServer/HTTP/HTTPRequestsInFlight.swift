import NIOCore
import NIOHTTPTypes

/// Counts the requests of a handed-over connection that are not answered in full yet, so the connection
/// can go back to the WebSocket transport (an upgrade on a later keep-alive request) only once every
/// earlier response has been written.
///
/// Sits behind the HTTP/1.1 codec, where each request head is counted as it is decoded, and sees each
/// response's end on its way out.
final class HTTPRequestsInFlight: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private var unanswered = 0
    private var whenAllAnswered: (() -> Void)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = self.unwrapInboundIn(data) { self.unanswered += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let isEnd = if case .end = self.unwrapOutboundIn(data) { true } else { false }
        context.write(data, promise: promise)
        guard isEnd else { return }
        self.unanswered -= 1
        if self.unanswered == 0, let body = self.whenAllAnswered {
            self.whenAllAnswered = nil
            // Not from inside the write: the pipeline is changed by `body`, and the writer still flushes.
            context.eventLoop.assumeIsolated().execute(body)
        }
    }

    /// Runs `body` on the event loop once every request counted so far has its response's end written.
    func whenAllAnswered(on eventLoop: any EventLoop, _ body: @escaping () -> Void) {
        if self.unanswered == 0 {
            eventLoop.assumeIsolated().execute(body)
        } else {
            self.whenAllAnswered = body
        }
    }
}
