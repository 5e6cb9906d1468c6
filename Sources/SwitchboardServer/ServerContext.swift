import Foundation
import Logging
import NIOCore
import SwitchboardProtocol

/// What every session and HTTP handler of one node shares: configuration, broker, hub, token checks,
/// the session registry. Immutable after start.
final class ServerContext: Sendable {
    let configuration: ServerConfiguration
    let broker: any Broker
    let hub: Hub
    let verifier: TokenVerifier
    let permissions: ChannelPermissions
    let apiKeys: APIKeyAuthenticator
    let sessions: SessionRegistry
    let metrics: ServerMetrics
    /// Who a connection is counted and logged as (`X-Forwarded-For` from trusted proxies).
    let clientAddresses: ClientAddressResolver
    let logger: Logger
    /// Set only when `serve` generated the secret (no keys configured): enables development token minting.
    let developmentSecret: String?
    /// Wall-clock time for token expiry (`exp` is a Unix time); injectable for tests.
    let now: @Sendable () -> Date
    /// How fast new connections are let in (`maxConnectsPerSecond`).
    let admission: AdmissionControl
    /// The limits every session's machine applies, shared.
    let sessionLimits: SessionLimits

    init(configuration: ServerConfiguration, broker: any Broker, hub: Hub, verifier: TokenVerifier, metrics: ServerMetrics,
         clientAddresses: ClientAddressResolver, logger: Logger, developmentSecret: String? = nil,
         now: @escaping @Sendable () -> Date = { Date() }) {
        self.configuration = configuration
        self.broker = broker
        self.hub = hub
        self.verifier = verifier
        self.permissions = ChannelPermissions(configuration: configuration)
        self.apiKeys = APIKeyAuthenticator(keys: configuration.apiKeys)
        self.sessions = SessionRegistry()
        self.metrics = metrics
        self.clientAddresses = clientAddresses
        self.logger = logger
        self.developmentSecret = developmentSecret
        self.now = now
        self.admission = AdmissionControl(ratePerSecond: configuration.limits.maxConnectsPerSecond,
                                          maxLoopLag: UInt64(configuration.limits.maxLoopLagMilliseconds) * 1_000_000)
        self.sessionLimits = SessionLimits(configuration.limits)
    }

    var limits: LimitsConfiguration { self.configuration.limits }

    /// Nil while the node keeps up; otherwise why a new publication is refused.
    var overloaded: String? {
        let pending = self.hub.pendingDeliveries.load(ordering: .relaxed)
        guard pending > self.limits.maxPendingDeliveries else { return nil }
        return "node overloaded: \(pending) deliveries queued; try again shortly"
    }

    func retention(for options: NamespaceOptions) -> HistoryRetention {
        HistoryRetention(size: options.historySize, seconds: options.historyTTL)
    }

    /// Presence entries outlive a missed refresh or two, and vanish soon after a node dies.
    static let presenceTTL = 60
}
