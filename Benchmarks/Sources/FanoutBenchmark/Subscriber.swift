import BenchmarkSupport
import Foundation
import NIOCore
import SwitchboardProtocol
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

struct SubscriberFailure: Error, CustomStringConvertible {
    var description: String
}

/// One subscriber: connects anonymously, subscribes to the channel, then checks and times every publication.
///
/// An event-loop handler (no task or stream per connection, which 10,000 connections on one core could not
/// afford). Confined to its event loop like the connection it serves.
final class Subscriber: WebSocketEventLoopHandler, @unchecked Sendable {
    private enum Phase {
        case connecting, authenticating, subscribing, live
        /// Gave up before subscribing (see ``fail(_:)``); the connection is closing.
        case failed
        case closed
    }

    private let connectCommand: WebSocketMessage
    private let subscribeCommand: WebSocketMessage
    private let encoding: WireEncoding
    private let recorder: DeliveryRecorder
    /// Succeeds when the subscribe reply arrives; fails when anything before it goes wrong.
    private let ready: EventLoopPromise<Void>
    private var phase = Phase.connecting
    private var connection: WebSocketEventLoopConnection?
    /// The last publication received (or the stream position the subscribe reply gave).
    private(set) var offset: UInt64 = 0
    private var epoch: UInt64 = 0

    init(channel: String, recorder: DeliveryRecorder, encoding: WireEncoding = .json) {
        self.encoding = encoding
        switch encoding {
        case .json:
            self.connectCommand = .text(#"{"type":"connect","id":1}"#)
            self.subscribeCommand = .text(#"{"type":"subscribe","id":2,"channel":"\#(channel)"}"#)
        case .protobuf:
            self.connectCommand = .binary(ClientCommand(id: 1, .connect(.init())).protobufEncoded())
            self.subscribeCommand = .binary(ClientCommand(id: 2, .subscribe(.init(channel: channel))).protobufEncoded())
        }
        self.recorder = recorder
        self.ready = recorder.eventLoop.makePromise(of: Void.self)
    }

    var eventLoop: any EventLoop { self.recorder.eventLoop }
    var isLive: Bool { self.phase == .live }

    /// Opens the connection; the future completes once subscribed, or fails after `timeout`.
    func start(url: String, configuration: WebSocketClientConfiguration, timeout: TimeAmount) -> EventLoopFuture<Void> {
        WebSocketClient.connect(to: url, configuration: configuration, eventLoop: self.eventLoop, handler: self)
            .whenFailure { error in self.fail("connect: \(error)") }
        // A server that accepts but never answers must not hang the ramp.
        let timer = self.eventLoop.scheduleTask(in: timeout) {
            self.fail("not subscribed within \(timeout.nanoseconds / 1_000_000_000) s")
        }
        self.ready.futureResult.whenComplete { _ in timer.cancel() }
        return self.ready.futureResult
    }

    // MARK: - WebSocketEventLoopHandler

    func webSocketDidOpen(_ connection: WebSocketEventLoopConnection) {
        self.connection = connection
        guard self.phase == .connecting else { return connection.close(code: .goingAway) }
        self.phase = .authenticating
        self.send(self.connectCommand, on: connection)
    }

    func webSocket(_ connection: WebSocketEventLoopConnection, didReceive message: WebSocketMessage) {
        // The hot path: a live subscriber's publication, read without decoding.
        if self.phase == .live,
           let publication = self.encoding == .json ? PublicationScanner.scan(message.data) : PublicationScanner.scan(protobuf: message.data) {
            let now = NIODeadline.now().uptimeNanoseconds
            (self.offset, self.epoch) = self.recorder.record(publication, previousOffset: self.offset,
                                                             previousEpoch: self.epoch, now: now)
            return
        }
        // Replies and rare pushes: decoded properly, once or twice per subscriber.
        let decoded: ServerMessage
        do {
            switch self.encoding {
            case .json: decoded = try JSONDecoder().decode(ServerMessage.self, from: Data(message.data.readableBytesView))
            case .protobuf: decoded = try ServerMessage.decode(protobuf: message.data.readableBytesView)
            }
        } catch {
            return self.unexpected("unreadable message: \(String(buffer: message.data).prefix(120))")
        }
        switch (self.phase, decoded) {
        case (.authenticating, .reply(id: 1, .connect)):
            self.phase = .subscribing
            self.send(self.subscribeCommand, on: connection)
        case (.subscribing, .reply(id: 2, .subscribe(let result))):
            self.offset = result.offset
            self.epoch = JSONBytes.hash(result.epoch)
            self.phase = .live
            self.recorder.subscriberBecameLive()
            self.ready.succeed()
        case (_, .disconnect(let disconnect)):
            self.recorder.serverEnded("disconnect \(disconnect.code.rawValue): \(disconnect.reason)")
        case (_, .unsubscribed(let unsubscribed)):
            self.recorder.serverEnded("unsubscribed: \(unsubscribed.reason)")
        default:
            self.unexpected("unexpected in phase \(self.phase): \(String(buffer: message.data).prefix(120))")
        }
    }

    func webSocketDidClose(_ connection: WebSocketEventLoopConnection, status: WebSocketCloseStatus) {
        let wasLive = self.phase == .live
        self.phase = .closed
        self.connection = nil
        self.recorder.subscriberClosed(wasLive: wasLive, status: "\(status)")
        // After a failure the promise is already failed, and a second completion leaves it as it was.
        if !wasLive { self.ready.fail(SubscriberFailure(description: "closed before subscribing: \(status)")) }
    }

    // MARK: -

    private func send(_ message: WebSocketMessage, on connection: WebSocketEventLoopConnection) {
        do {
            try connection.send(message)
        } catch {
            self.fail("send: \(error)")
        }
    }

    /// Before the subscription: the subscriber failed. After it: an incident to report.
    private func unexpected(_ description: String) {
        guard self.phase == .live else { return self.fail(description) }
        self.recorder.unexpected(description)
    }

    /// Gives up on a subscriber that is not live yet, closing its connection so it cannot become live later
    /// (it would then receive publications nobody expects it to).
    private func fail(_ description: String) {
        switch self.phase {
        case .live, .failed, .closed:
            // Live: not a failure. Failed or closed: the promise is already failed (a close after a failure).
            return
        case .connecting, .authenticating, .subscribing:
            self.phase = .failed
            self.ready.fail(SubscriberFailure(description: description))
            self.connection?.close(code: .goingAway)
        }
    }
}
