import NIOConcurrencyHelpers
import SwitchboardProtocol
import SwitchboardServer

/// The promises every `Broker` makes to the nodes above it, as checks a broker's own tests run.
///
/// The embedded memory broker and `SwitchboardRedis` are both held to them; a third-party broker runs the
/// same checks from its test suite, with any test framework:
///
/// ```swift
/// @Test(arguments: BrokerContract.checks)
/// func myBrokerKeepsTheContract(_ check: BrokerContract.Check) async throws {
///     try await check.run { MyBroker(url: testServerURL) }
/// }
/// ```
///
/// Each check starts a fresh broker from the factory with a recording `BrokerEventHandler`, uses channels
/// of its own (a random prefix, so checks may share one backing server), shuts the broker down, and throws a
/// ``BrokerContractViolation`` that says what was promised and what happened.
public enum BrokerContract {
    /// One promise, named for a test report.
    public struct Check: Sendable, CustomStringConvertible {
        public let name: String
        let body: @Sendable (_ broker: any Broker, _ handler: RecordingBrokerHandler, _ channel: String) async throws -> Void

        public var description: String { self.name }

        /// Runs the check on a broker from `makeBroker`, started here and shut down after.
        public func run(_ makeBroker: @Sendable () async throws -> any Broker) async throws {
            let broker = try await makeBroker()
            let handler = RecordingBrokerHandler()
            try await broker.start(handler: handler)
            do {
                try await self.body(broker, handler, "contract\(UInt32.random(in: 0...UInt32.max)):")
            } catch {
                await broker.shutdown()
                throw error
            }
            await broker.shutdown()
        }
    }

    /// Every check, in the order they are listed in the documentation of `Broker`.
    public static let checks: [Check] = [
        Check(name: "publications get contiguous offsets in one epoch and reach a subscribed node in order", body: Self.ordering),
        Check(name: "history since a position is the complete gap, or not recoverable", body: Self.recovery),
        Check(name: "history keeps at most the retention's size, and offsets count without history", body: Self.retention),
        Check(name: "an idempotency key publishes once per channel within its window", body: Self.idempotency),
        Check(name: "presence lists who was added until removed, and presence events reach a subscribed node", body: Self.presence),
        Check(name: "a ticket is granted once, then already used; an unknown one is unknown", body: Self.tickets),
    ]

    /// Runs every check; throws the first violation.
    public static func verify(_ makeBroker: @Sendable () async throws -> any Broker) async throws {
        for check in Self.checks { try await check.run(makeBroker) }
    }
}

/// A broken promise: which check, and what happened.
public struct BrokerContractViolation: Error, CustomStringConvertible {
    public let description: String
}

/// What a broker handed to its node, in arrival order: the handler the checks start brokers with, and one
/// for a broker's own tests.
public final class RecordingBrokerHandler: BrokerEventHandler, Sendable {
    public let publications = NIOLockedValueBox<[Publication]>([])
    /// (change, client id, channel)
    public let presence = NIOLockedValueBox<[(PresenceChange, String, String)]>([])
    /// Channels whose live feed was interrupted.
    public let missed = NIOLockedValueBox<[String]>([])

    public init() {}

    public func broker(didPublish publication: Publication) { self.publications.withLockedValue { $0.append(publication) } }
    public func broker(didChangePresence change: PresenceChange, client: ClientInfo, channel: String) {
        self.presence.withLockedValue { $0.append((change, client.client, channel)) }
    }
    public func broker(mayHaveMissedPublicationsIn channel: String) { self.missed.withLockedValue { $0.append(channel) } }

    /// The offsets of every publication received, in arrival order.
    public var offsets: [UInt64] { self.publications.withLockedValue { $0.map(\.offset) } }

    public func publications(in channel: String) -> [Publication] {
        self.publications.withLockedValue { $0.filter { $0.channel == channel } }
    }

    /// Waits (polling; up to 30 s, a guard against a hang, never a measure of speed) until `condition` holds.
    func wait(for what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw BrokerContractViolation(description: "never happened: \(what)") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// `condition`, or a violation that says what was expected and what was found.
func expect(_ condition: Bool, _ promise: @autoclosure () -> String, found: @autoclosure () -> String) throws {
    guard condition else { throw BrokerContractViolation(description: "\(promise()); found \(found())") }
}
