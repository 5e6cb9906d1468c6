// The label values ServerMetrics accepts. Each is a closed set chosen by the server, never text from a
// client: a label value is a time series, and a peer that could pick label values could make unbounded
// numbers of them. Each value carries its position in `all`, so the hot path finds its pre-created metric
// by array index instead of by hashing a string.

extension ServerMetrics {
    /// How a client is connected: the `transport` label of `switchboard_connections`.
    public struct Transport: Sendable, Hashable, CustomStringConvertible {
        let index: Int
        /// The label value.
        public let description: String

        /// A WebSocket connection.
        public static let webSocket = Transport(index: 0, description: "websocket")
        /// A Server-Sent Events stream (the fallback transport).
        public static let sse = Transport(index: 1, description: "sse")
        static let all: [Transport] = [.webSocket, .sse]

        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.index == rhs.index }
        public func hash(into hasher: inout Hasher) { hasher.combine(self.index) }
    }

    /// Who published: the `source` label of `switchboard_publications_total`.
    public struct PublicationSource: Sendable, Hashable, CustomStringConvertible {
        let index: Int
        /// The label value.
        public let description: String

        /// A client's `publish` command.
        public static let client = PublicationSource(index: 0, description: "client")
        /// The back-end HTTP API.
        public static let api = PublicationSource(index: 1, description: "api")
        static let all: [PublicationSource] = [.client, .api]

        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.index == rhs.index }
        public func hash(into hasher: inout Hasher) { hasher.combine(self.index) }
    }

    /// Why a connection was refused before it opened: the `reason` label of
    /// `switchboard_refused_connections_total`.
    public struct RefusalReason: Sendable, Hashable, CustomStringConvertible {
        let index: Int
        /// The label value.
        public let description: String

        /// The node's `maxConnections` (503).
        public static let totalLimit = RefusalReason(index: 0, description: "total_limit")
        /// The address's `maxConnectionsPerIP` (429).
        public static let addressLimit = RefusalReason(index: 1, description: "address_limit")
        /// No valid token where one is required.
        public static let unauthorized = RefusalReason(index: 2, description: "unauthorized")
        /// A browser page from an origin not in `allowedOrigins` (403).
        public static let forbiddenOrigin = RefusalReason(index: 3, description: "forbidden_origin")
        /// A malformed upgrade or SSE request.
        public static let badRequest = RefusalReason(index: 4, description: "bad_request")
        /// The node is draining for shutdown.
        public static let draining = RefusalReason(index: 5, description: "draining")
        /// Over `maxConnectsPerSecond` (503 with `Retry-After`).
        public static let admission = RefusalReason(index: 6, description: "admission_rate")
        /// Over `maxConnectionsPerUser` (closed with 4503 after authenticating).
        public static let userLimit = RefusalReason(index: 7, description: "user_limit")
        /// The node's event loops run later than `maxLoopLagMilliseconds` (503 with `Retry-After`).
        public static let overloaded = RefusalReason(index: 8, description: "overloaded")
        static let all: [RefusalReason] = [.totalLimit, .addressLimit, .unauthorized, .forbiddenOrigin, .badRequest, .draining,
                                           .admission, .userLimit, .overloaded]

        /// The reason for a ``ConnectionLimiter`` refusal.
        public init(_ refusal: ConnectionLimitRefusal) {
            self = refusal.limit == .total ? .totalLimit : .addressLimit
        }

        private init(index: Int, description: String) {
            self.index = index
            self.description = description
        }

        public static func == (lhs: Self, rhs: Self) -> Bool { lhs.index == rhs.index }
        public func hash(into hasher: inout Hasher) { hasher.combine(self.index) }
    }
}
