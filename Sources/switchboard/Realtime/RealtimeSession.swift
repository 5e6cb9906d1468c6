import Foundation
import NIOConcurrencyHelpers
import SwitchboardClient
import SwitchboardProtocol

/// `switchboard connect` in protocol mode: a ``RealtimeClient`` that subscribes, prints every publication as
/// a JSON line on stdout, reports the connection and its subscriptions on stderr, and publishes stdin lines.
///
/// Reconnecting and recovery are the SDK's (docs/CLIENTS.md); this type only decides when the session is
/// over. Whichever of its tasks sees the end first reports a ``RealtimeSessionOutcome``; the rest are cancelled.
struct RealtimeSession: Sendable {
    /// The WebSocket endpoint (``ServerURL/webSocketURL``).
    var url: String
    /// Sent in `connect`; nil connects anonymously.
    var token: String?
    var subscriptions: [String]
    /// Where stdin lines go; nil when there is nowhere (each line is then reported as failed).
    var publishChannel: String?
    var reconnect: ReconnectPolicy
    /// How the WebSocket's messages are encoded (`--protocol`).
    var encoding: WireEncoding = .json
    /// Whether the WebSocket handshake offers permessage-deflate.
    var compression = true
    /// How long to wait at the end of stdin for the last own publication to be printed.
    var echoWait: Duration = .seconds(2)

    private var console: Console { Console.shared }

    /// Runs until stdin ends (`lines`; nil: until the client stops for good) and returns how it ended.
    func run(lines: StandardInputLines?) async -> RealtimeSessionOutcome {
        let (outcomes, ending) = AsyncStream.makeStream(of: RealtimeSessionOutcome.self)
        let token = self.token
        var configuration = RealtimeClientConfiguration(
            tokenProvider: {
                // A fixed token cannot be replaced; retrying with it after it expired would retry for ever.
                if let token, let expiry = TokenExpiry.expiry(of: token), expiry <= Date() {
                    ending.yield(.stopped("the token expired at \(expiry); get a new one (switchboard token --sub USER)"))
                    throw TokenExpiredError()
                }
                return token
            },
            reconnect: self.reconnect, clientName: "switchboard-cli")
        configuration.encoding = self.encoding
        configuration.compression = self.compression
        let client = RealtimeClient(url: self.url, configuration: configuration)
        // Made before connect(), so its first element is the state before connecting, which says nothing.
        let states = client.states
        let over = NIOLockedValueBox(false)
        return await withTaskGroup(of: Void.self) { group -> RealtimeSessionOutcome in
            group.addTask { await self.report(states: states, until: over, ending: ending) }
            group.addTask { await self.drive(client, lines: lines, ending: ending) }
            var first = outcomes.makeAsyncIterator()
            // `ending` is never finished, so there is always a first outcome.
            let outcome = await first.next()!
            // The state of our own disconnect() below is not news.
            over.withLockedValue { $0 = true }
            group.cancelAll()
            // connect() and a queued publish wait on continuations that cancellation does not reach; the
            // client's disconnect() ends them, so the group's tasks can finish.
            await client.disconnect()
            return outcome
        }
    }

    private struct TokenExpiredError: Error {}

    /// Every state change on stderr; the terminal one ends the session.
    private func report(states: AsyncStream<ConnectionState>, until over: NIOLockedValueBox<Bool>,
                        ending: AsyncStream<RealtimeSessionOutcome>.Continuation) async {
        for await state in states.dropFirst() where !over.withLockedValue({ $0 }) {
            self.console.note(StatusText.describe(state, url: self.url))
            // A failed connect() always ends here too (the engine's terminal transition publishes it),
            // with the server's code and reason, which is the better message.
            if case .disconnected(let reason) = state {
                ending.yield(.stopped(StatusText.describe(reason)))
            }
        }
    }

    private func drive(_ client: RealtimeClient, lines: StandardInputLines?, ending: AsyncStream<RealtimeSessionOutcome>.Continuation) async {
        do {
            try await client.connect()
        } catch {
            return  // reported by the state task
        }
        var subscriptions: [Subscription<JSONValue>] = []
        for channel in self.subscriptions {
            do {
                subscriptions.append(try await client.subscribe(channel, as: JSONValue.self))
                self.console.note("subscribed to \(channel)")
            } catch {
                ending.yield(.stopped("cannot subscribe to \(channel): \(error)"))
                return
            }
        }
        let printed = PrintedPositions()
        await withTaskGroup(of: Void.self) { group in
            for subscription in subscriptions {
                group.addTask { await self.printPublications(of: subscription, into: printed, ending: ending) }
                group.addTask {
                    for await event in subscription.events {
                        self.console.note(StatusText.describe(event, channel: subscription.channel))
                    }
                }
            }
            if let lines {
                group.addTask {
                    let (lastAcknowledged, failures) = await LinePublisher(client: client, channel: self.publishChannel).publish(lines)
                    // So that `echo hi | switchboard connect --subscribe chat:x` prints `hi` before exiting.
                    if let channel = self.publishChannel, self.subscriptions.contains(channel), let lastAcknowledged {
                        await printed.wait(for: lastAcknowledged, in: channel, timeout: self.echoWait)
                    }
                    ending.yield(.inputEnded(failedPublications: failures))
                }
            }
        }
    }

    private func printPublications(of subscription: Subscription<JSONValue>, into printed: PrintedPositions,
                       ending: AsyncStream<RealtimeSessionOutcome>.Continuation) async {
        do {
            for try await publication in subscription {
                self.console.output(PublicationLine(publication).text)
                printed.printed(publication.position, in: publication.channel)
            }
        } catch {
            // The server refused the resubscription after a reconnect.
            ending.yield(.stopped("subscription to \(subscription.channel) ended: \(error)"))
        }
    }
}

/// How a ``RealtimeSession`` ended, and the exit status that says so.
enum RealtimeSessionOutcome: Sendable, Hashable {
    /// Stdin ended and every publication was answered; `failedPublications` of them were not accepted.
    case inputEnded(failedPublications: Int)
    /// The client stopped for good (a 4500–4999 disconnect, a refused or expired token, too many attempts) or
    /// a subscription was refused.
    case stopped(String)

    /// 0: done; 1: stopped; 3: stdin ended but publications failed (2 is the raw mode's "cannot connect").
    var exitCode: Int32 {
        switch self {
        case .inputEnded(0): 0
        case .inputEnded: 3
        case .stopped: 1
        }
    }
}
