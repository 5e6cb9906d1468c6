import Logging
import NIOCore
import SwitchboardWebSocket

/// Handing a plain HTTP connection to the server's HTTP handover. A WebSocket connection never carries HTTP
/// handlers (they would be memory every idle connection holds); a connection whose first request is plain
/// HTTP gets them from the handover and loses this handler.
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

    /// Lets `handover` install its handlers behind this one, passes them `receivedBytes` (everything read
    /// so far), and leaves the pipeline. Runs inside `channelRead`, so no later read can overtake these bytes.
    func handOver(to handover: WebSocketServer.HTTPHandover, receivedBytes: ByteBuffer, context: ChannelHandlerContext) {
        self.phase = .handedOver
        self.cancelTimers()
        self.output = ByteBuffer()
        let channel = context.channel
        // Before the hook runs: the handed-over connection must stay known to shutdown from now on.
        self.registry?.handOver(channel)
        do {
            try handover(channel)
        } catch {
            self.logger.debug("The HTTP handover failed; closing the connection",
                              metadata: ["error": "\(error)", "peer": "\(self.remoteAddress.map { "\($0)" } ?? "?")"])
            self.context = nil
            context.close(promise: nil)
            return
        }
        // From this handler's context, not the pipeline's head: with TLS the head is the TLS handler, which
        // would take these already-decrypted bytes for ciphertext.
        context.fireChannelRead(self.wrapInboundOut(receivedBytes))
        context.fireChannelReadComplete()
        // A read this handler held back (reading paused while unwritable) would leave the new handlers
        // waiting forever for bytes: pass it on.
        let owedRead = self.readPending
        self.readPending = false
        self.context = nil  // the context holds this handler: keeping it would be a reference cycle
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        if owedRead { channel.read() }
    }
}
