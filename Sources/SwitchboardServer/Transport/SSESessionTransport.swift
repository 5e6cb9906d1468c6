import NIOConcurrencyHelpers
import NIOCore
import SwitchboardProtocol

/// Runs a ``ClientSession`` over a Server-Sent Events response: every server message becomes an event whose
/// `data` is the same JSON a WebSocket client gets; publications carry an `id` with every channel's
/// position (``SSEEventID``), so `EventSource` resumes by itself.
///
/// Events are queued for the response writer; the queue is bounded in bytes like a WebSocket's outbound
/// buffer, and a client that does not read is disconnected as a slow consumer.
final class SSESessionTransport: SessionTransport, @unchecked Sendable {
    let eventLoop: any EventLoop
    /// The HTTP connection: closed outright for a slow consumer, whose writer is stuck on a full socket.
    private let channel: any Channel
    let events: AsyncStream<ByteBuffer>
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    /// Bytes queued and not yet written to the socket, and whether the stream ended: shared by the session
    /// (its event loop), the writer task, and the connection's close.
    private struct QueueState {
        var queuedBytes = 0
        var finished = false
    }
    private let queue = NIOLockedValueBox(QueueState())
    private let maximumQueuedBytes: Int
    weak var session: ClientSession?
    /// How the stream ended, for metrics: the disconnect code, or 1000 when the client went away.
    private let recordedCloseCode = NIOLockedValueBox<UInt16>(1000)
    var closeCode: UInt16 { self.recordedCloseCode.withLockedValue { $0 } }

    init(channel: any Channel, maximumQueuedBytes: Int) {
        self.channel = channel
        self.eventLoop = channel.eventLoop
        self.maximumQueuedBytes = maximumQueuedBytes
        (self.events, self.continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
        // The node reads the connection while the stream is open, so a client that closes it (FIN or RST)
        // is seen at once; the writer, waiting for events, would only notice at its next write.
        channel.closeFuture.whenComplete { [self] _ in self.finish() }
    }

    var kind: TransportKind { .sse }

    func send(_ message: ServerMessage) throws {
        // Replies carry the positions too: a stream that drops before its first publication still resumes.
        let positions = self.session?.positions ?? [:]
        try self.enqueue(Self.event(ServerMessageEncoder.encode(message), id: positions.isEmpty ? nil : SSEEventID.encode(positions)))
    }

    func sendPush(_ push: EncodedPush) throws {
        // Called after the session recorded the publication's position: the id covers it.
        try self.enqueue(Self.event(push.json, id: self.session.map { SSEEventID.encode($0.positions) }))
    }

    /// A comment line: keeps proxies from timing the stream out, and finds dead clients (the write fails).
    func sendHeartbeat() {
        try? self.enqueue(ByteBuffer(string: ": ping\n\n"))
    }

    func disconnect(_ disconnect: ServerMessage.Disconnect) {
        self.recordedCloseCode.withLockedValue { $0 = disconnect.code.rawValue }
        try? self.enqueue(Self.event(ServerMessageEncoder.encode(.disconnect(disconnect)), id: nil), checkingLimit: false)
        self.finish()
    }

    /// Ends the event stream: the writer task finishes the response and releases the session. Also called
    /// when the connection closes, so a client that left is released at once, not at the next heartbeat.
    func finish() {
        let wasFinished = self.queue.withLockedValue { state in
            defer { state.finished = true }
            return state.finished
        }
        if !wasFinished { self.continuation.finish() }
    }

    /// The writer task wrote `count` bytes.
    func wrote(_ count: Int) {
        self.queue.withLockedValue { $0.queuedBytes -= count }
    }

    private func enqueue(_ event: ByteBuffer, checkingLimit: Bool = true) throws {
        let queued = self.queue.withLockedValue { state -> Int? in
            guard !state.finished else { return nil }
            state.queuedBytes += event.readableBytes
            return state.queuedBytes
        }
        guard let queued else { throw SessionTransportClosed() }
        if checkingLimit, queued > self.maximumQueuedBytes {
            self.session?.slowConsumer()
            // The response writer waits on a socket the client does not drain; only closing it frees the
            // connection (and its slot in the connection limits).
            self.channel.close(promise: nil)
            throw SessionTransportClosed()
        }
        self.continuation.yield(event)
    }

    /// `id: …` (optional) and `data: …` lines. The JSON is one line: JSONEncoder escapes newlines in strings.
    static func event(_ json: ByteBuffer, id: String?) -> ByteBuffer {
        var event = ByteBuffer()
        event.reserveCapacity(json.readableBytes + (id?.utf8.count ?? 0) + 16)
        if let id {
            event.writeString("id: ")
            event.writeString(id)
            event.writeString("\n")
        }
        event.writeString("data: ")
        event.writeImmutableBuffer(json)
        event.writeString("\n\n")
        return event
    }
}

/// The connection is gone or over its limits; the session stops using it.
struct SessionTransportClosed: Error {}
