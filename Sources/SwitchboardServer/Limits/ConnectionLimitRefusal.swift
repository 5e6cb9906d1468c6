/// Why ``ConnectionLimiter/acquire(ip:)`` refused a connection: which limit was reached, the HTTP status to
/// refuse the upgrade (or the SSE request) with, and a reason to put in the response body and the log.
///
/// The peer is at fault for a per-address refusal (it opened too many connections: 429, Too Many Requests);
/// nobody is for a node-wide one (the node is full: 503, Service Unavailable, and another node may have room).
public struct ConnectionLimitRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which limit refused a connection. A struct, so that limits can be added without breaking a `switch`.
    public struct Limit: Sendable, Hashable, CustomStringConvertible {
        private enum Code: Sendable, Hashable { case total, perAddress }
        private let code: Code

        /// `maxConnections`: the node has as many connections as it takes.
        public static let total = Limit(code: .total)
        /// `maxConnectionsPerIP`: this address (or IPv6 prefix) has as many as one peer may have.
        public static let perAddress = Limit(code: .perAddress)

        public var description: String {
            switch self.code {
            case .total: "total"
            case .perAddress: "per-address"
            }
        }
    }

    /// The limit that was reached.
    public let limit: Limit
    /// The configured maximum that was reached.
    public let maximum: Int
    /// 503 for ``Limit/total``, 429 for ``Limit/perAddress``.
    public var httpStatus: Int { self.limit == .total ? 503 : 429 }
    /// A sentence for the response body and the log; it names the address's key, never other peers.
    public let reason: String

    init(limit: Limit, maximum: Int, address: ClientAddress) {
        self.limit = limit
        self.maximum = maximum
        self.reason = limit == .total
            ? "the server has reached its limit of \(maximum) connections"
            : "too many connections from \(address) (limit \(maximum))"
    }

    public var description: String { "connection refused (\(self.httpStatus)): \(self.reason)" }
}
