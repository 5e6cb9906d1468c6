import BenchmarkSupport
import Foundation
import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocketNIO

/// Where a client stands in one stream: the last publication it processed.
struct StreamPosition {
    var offset: UInt64 = 0
    /// Empty until the first subscribe reply. Epochs are short, so the string is stored inline.
    var epoch = ""

    var isKnown: Bool { !self.epoch.isEmpty }
}

/// One simulated user: connects with its own token, subscribes to its personal channel and the broadcast
/// channel, checks every publication's position, and reconnects with jittered backoff (or the node's delay
/// hint) when its connection drops, recovering both streams from where it was.
///
/// An event-loop handler, confined to its pool's event loop: no task, stream or timer per client, so a
/// process can hold ~19,000 of them in a few kilobytes each.
final class LoadClient: WebSocketEventLoopHandler, @unchecked Sendable {
    enum Phase: UInt8 {
        case idle, connecting, authenticating, subscribing, live, waitingToReconnect, stopped

        /// Between the start of an attempt and its subscriptions' answers. (A switch: the pool asks it of
        /// every client each second, where an array literal's `contains` would allocate each time.)
        var isAttempting: Bool {
            switch self {
            case .connecting, .authenticating, .subscribing: true
            case .idle, .live, .waitingToReconnect, .stopped: false
            }
        }
    }

    private static let personalID: UInt64 = 2
    private static let broadcastID: UInt64 = 3

    let user: Int
    unowned let pool: ClientPool
    private(set) var phase = Phase.idle
    /// When the current connect attempt started (uptime nanoseconds): the pool gives up on slow ones.
    private(set) var attemptStartedAt: UInt64 = 0
    private var connection: WebSocketEventLoopConnection?
    /// Counts the connections this client has opened: a retry scheduled on one is not sent on a later one.
    private var connectionSerial: UInt32 = 0
    private var personal = StreamPosition()
    private var broadcast = StreamPosition()
    private var subscribesPending: UInt8 = 0
    /// Failed attempts in a row: the backoff's exponent.
    private var attempts: UInt8 = 0
    /// Milliseconds the node asked us to wait (a `disconnect` push's `delay`); -1 when it did not.
    private var delayHint: Int32 = -1
    private(set) var hasBeenLive = false
    /// The source port of the current attempt (0: none).
    private var port: UInt16 = 0
    /// The pool's phase number when the connection last dropped (0: never).
    private var droppedInPhase: UInt16 = 0

    init(user: Int, pool: ClientPool) {
        self.user = user
        self.pool = pool
    }

    var userID: String { "u\(self.user)" }

    // MARK: - Lifecycle

    func start() {
        guard self.phase == .idle || self.phase == .waitingToReconnect else { return }
        self.phase = .connecting
        self.attemptStartedAt = NIODeadline.now().uptimeNanoseconds
        self.delayHint = -1
        self.port = self.pool.takePort()
        self.pool.connect(self, fromPort: self.port).whenFailure { [self] error in
            // Only a connection that never opened fails here; one that opened reports its close instead.
            guard self.phase == .connecting else { return }
            if let retryAfter = (error as? WebSocketTransportError)?.retryAfter {
                // Admission control: wait what the node says, with jitter up to twice it, as the SDKs do.
                self.pool.tally.refusedAttempts += 1
                self.delayHint = Int32(clamping: Int.random(in: retryAfter * 1_000...max(1, retryAfter * 2_000)))
            }
            self.attemptFailed("connect: \(error)")
        }
    }

    /// Ends the client for good (the run is over).
    func stop() {
        self.phase = .stopped
        self.connection?.close(code: .goingAway)
    }

    /// The pool's watchdog: an attempt that has not subscribed in time is abandoned and retried.
    func abandonAttempt(_ reason: String) {
        guard self.phase.isAttempting else { return }
        if let connection = self.connection {
            self.pool.tally.note("user \(self.userID): \(reason)")
            connection.close(code: .goingAway)  // webSocketDidClose retries
        } else {
            self.attemptFailed(reason)
        }
    }

    private func attemptFailed(_ reason: String) {
        self.pool.tally.failedAttempts += 1
        self.pool.tally.note("user \(self.userID): \(reason)")
        guard self.hasBeenLive || !self.pool.isFrozen else {
            // Never got in before the ramp ended: out of the run.
            self.pool.returnPort(self.port)
            self.phase = .stopped
            return
        }
        self.scheduleReconnect()
    }

    private func scheduleReconnect() {
        self.phase = .waitingToReconnect
        self.connection = nil
        // The connection is closed (a port in TIME_WAIT fails the next bind to it, which is retried).
        self.pool.returnPort(self.port)
        self.port = 0
        let delay: Int64
        if self.delayHint >= 0 {
            delay = Int64(self.delayHint)  // already jittered by the node
        } else {
            // Full jitter (uniform up to an exponentially growing cap), so a dropped node's clients spread out.
            let cap = min(self.pool.settings.reconnectCapMilliseconds, self.pool.settings.reconnectBaseMilliseconds << min(Int64(self.attempts), 16))
            delay = Int64.random(in: 0...max(cap, 1))
        }
        self.attempts &+= 1
        self.pool.eventLoop.scheduleTask(in: .milliseconds(delay)) { self.start() }
    }

    // MARK: - WebSocketEventLoopHandler

    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
        self.connection = connection
        self.connectionSerial &+= 1
        guard self.phase == .connecting else { return connection.close(code: .goingAway) }
        self.phase = .authenticating
        self.send(#"{"type":"connect","id":1,"token":"\#(self.pool.token(for: self.userID))"}"#)
    }

    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
        let handled = message.data.withUnsafeReadableBytes { bytes -> Bool in
            switch self.pool.reader.scan(bytes) {
            case .publication(let isBroadcast, let offset, let epoch, let sentAt):
                self.deliver(isBroadcast: isBroadcast, offset: offset, epoch: UnsafeRawBufferPointer(rebasing: bytes[epoch]), sentAt: sentAt)
            case .connected where self.phase == .authenticating:
                self.subscribe()
            case .subscribed(let id, let offset, let epoch, let recovered) where self.phase != .stopped:
                self.subscribed(id: id, offset: offset, epoch: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[epoch]), as: UTF8.self),
                                recovered: recovered, publications: [])
            default:
                return false
            }
            return true
        }
        if !handled { self.decodeAndHandle(message) }
    }

    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
        self.connection = nil
        switch self.phase {
        case .stopped:
            return
        case .live:
            self.pool.tally.drops += 1
            self.pool.tally.dropCauses["\(status.code.rawValue) \(status.initiatedLocally ? "by the client" : "by the node")", default: 0] += 1
            self.droppedInPhase = self.pool.phaseNumber
            self.pool.clientLeftLive()
            self.scheduleReconnect()
        default:
            self.attemptFailed("closed before subscribing: \(status)")
        }
    }

    // MARK: - The protocol

    private func subscribe() {
        self.phase = .subscribing
        self.subscribesPending = 2
        self.sendSubscribe(isBroadcast: false)
        self.sendSubscribe(isBroadcast: true)
    }

    /// Subscribes to one of the two streams from the position the client has in it.
    private func sendSubscribe(isBroadcast: Bool) {
        if isBroadcast {
            self.send(Self.subscribeCommand(id: Self.broadcastID, channel: self.pool.settings.broadcastChannel, from: self.broadcast))
        } else {
            self.send(Self.subscribeCommand(id: Self.personalID, channel: self.pool.settings.personalNamespace + ":" + self.userID, from: self.personal))
        }
    }

    private static func subscribeCommand(id: UInt64, channel: String, from position: StreamPosition) -> String {
        guard position.isKnown else { return #"{"type":"subscribe","id":\#(id),"channel":"\#(channel)"}"# }
        return #"{"type":"subscribe","id":\#(id),"channel":"\#(channel)","since":{"offset":\#(position.offset),"epoch":"\#(position.epoch)"}}"#
    }

    private func subscribed(id: UInt64, offset: UInt64, epoch: String, recovered: Bool?, publications: [Publication]) {
        let isBroadcast = id == Self.broadcastID
        for publication in publications { self.deliver(publication, isBroadcast: isBroadcast) }
        switch recovered {
        case true?: self.pool.tally.recovered += 1
        case false?: self.pool.tally.notRecovered += 1
        case nil: break
        }
        // The reply's position is the stream's now; anything between ours and it that the reply did not carry
        // was lost (a recovered reply carries it all).
        var epoch = epoch
        _ = epoch.withUTF8 { self.advance(isBroadcast: isBroadcast, to: offset, epoch: UnsafeRawBufferPointer($0), counting: false) }
        guard self.phase == .subscribing else { return }  // a resubscription after `unsubscribed`
        self.subscribesPending -= 1
        if self.subscribesPending == 0 {
            self.phase = .live
            self.attempts = 0
            self.pool.clientBecameLive(again: self.hasBeenLive)
            self.hasBeenLive = true
        }
    }

    private func deliver(_ publication: Publication, isBroadcast: Bool) {
        publication.data.bytes.withUnsafeBytes { data in
            let sentAt = JSONBytes.integer(after: Self.timeKey, in: data, from: 0)?.value
            var epoch = publication.epoch
            epoch.withUTF8 { self.deliver(isBroadcast: isBroadcast, offset: publication.offset, epoch: UnsafeRawBufferPointer($0), sentAt: sentAt) }
        }
    }

    private func deliver(isBroadcast: Bool, offset: UInt64, epoch: UnsafeRawBufferPointer, sentAt: UInt64?) {
        guard self.advance(isBroadcast: isBroadcast, to: offset, epoch: epoch, counting: true) else { return }
        if let sentAt {
            self.pool.recordLatency(sentAt: sentAt, isBroadcast: isBroadcast, droppedInThisPhase: self.droppedInPhase == self.pool.phaseNumber)
        }
    }

    /// Moves a stream's position to `offset`, counting what that skips or repeats; false for a duplicate.
    @discardableResult
    private func advance(isBroadcast: Bool, to offset: UInt64, epoch: UnsafeRawBufferPointer, counting: Bool) -> Bool {
        var position = isBroadcast ? self.broadcast : self.personal
        var tally = isBroadcast ? self.pool.tally.broadcast : self.pool.tally.personal
        defer {
            if isBroadcast { self.broadcast = position; self.pool.tally.broadcast = tally }
            else { self.personal = position; self.pool.tally.personal = tally }
        }
        guard position.epoch.utf8.elementsEqual(epoch) else {
            if position.isKnown { tally.epochChanges += 1 }
            position = StreamPosition(offset: offset, epoch: String(decoding: epoch, as: UTF8.self))
            if counting { tally.deliveries += 1 }
            return true
        }
        if offset <= position.offset {
            if counting { tally.duplicates += 1 }
            return false
        }
        tally.missing += offset - position.offset - (counting ? 1 : 0)
        if counting { tally.deliveries += 1 }
        position.offset = offset
        return true
    }

    private static let timeKey = Array(#""t":"#.utf8)

    /// Replies with publications, errors and rare pushes: decoded properly.
    private func decodeAndHandle(_ message: WebSocketMessage) {
        let decoded: ServerMessage
        do {
            decoded = try JSONDecoder().decode(ServerMessage.self, from: Data(message.data.readableBytesView))
        } catch {
            return self.unexpected("unreadable: \(String(buffer: message.data).prefix(120))")
        }
        switch decoded {
        case .reply(let id, .subscribe(let result)) where self.phase != .stopped:
            self.subscribed(id: id, offset: result.offset, epoch: result.epoch, recovered: result.recovered,
                            publications: result.publications ?? [])
        case .publication(let publication):
            self.deliver(publication, isBroadcast: publication.channel == self.pool.settings.broadcastChannel)
        case .disconnect(let disconnect):
            self.pool.tally.serverEnded += 1
            self.pool.tally.note("disconnect \(disconnect.code.rawValue): \(disconnect.reason)")
            if let delay = disconnect.delay { self.delayHint = Int32(clamping: delay) }
        case .error(let id?, let error) where error.code.isTemporary && (id == Self.personalID || id == Self.broadcastID)
            && [.subscribing, .live].contains(self.phase):
            // A subscribe refused for now (202: the node's broker did not answer in time). As the SDKs do, ask
            // again on this connection after a while: closing it would throw away the connect the node admitted.
            self.pool.tally.subscribeRetries += 1
            self.pool.tally.note("user \(self.userID): subscribe \(id) refused for now (\(error.code.rawValue)): retrying")
            let refusedOn = self.connectionSerial
            self.pool.eventLoop.scheduleTask(in: .milliseconds(Int64.random(in: 1_000...3_000))) { [self] in
                guard self.connection != nil, self.connectionSerial == refusedOn, [.subscribing, .live].contains(self.phase) else { return }
                self.sendSubscribe(isBroadcast: id == Self.broadcastID)
            }
        case .unsubscribed(let unsubscribed):
            // The node saw a gap in the live stream: resubscribe from our position, as the protocol says.
            self.pool.tally.serverEnded += 1
            self.pool.tally.note("unsubscribed from \(unsubscribed.channel): \(unsubscribed.reason)")
            self.sendSubscribe(isBroadcast: unsubscribed.channel == self.pool.settings.broadcastChannel)
        default:
            self.unexpected("unexpected in phase \(self.phase): \(String(buffer: message.data).prefix(160))")
        }
    }

    private func unexpected(_ description: String) {
        self.pool.tally.unexpected += 1
        self.pool.tally.note("user \(self.userID): \(description)")
        // Before it is subscribed, a client that got something unexpected starts over.
        if [.authenticating, .subscribing].contains(self.phase) { self.connection?.close(code: .goingAway) }
    }

    private func send(_ text: String) {
        do {
            try self.connection?.send(.text(text))
        } catch {
            self.connection?.close(code: .goingAway)
        }
    }
}
