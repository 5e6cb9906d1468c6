import Atomics
import NIOConcurrencyHelpers

/// Counts the node's open connections, in total and per client address, and refuses one more when either
/// limit is reached. Shared by every transport (WebSocket and SSE count together); safe from any thread.
///
/// ```swift
/// switch limiter.acquire(ip: remoteAddress) {
/// case .success(let lease):
///     // keep `lease` with the connection; `lease.release()` when it closes
/// case .failure(let refusal):
///     // refuse with refusal.httpStatus and refusal.reason
/// }
/// ```
///
/// Addresses are normalized (port, brackets and IPv6 zone stripped; IPv4-mapped IPv6 is IPv4) and IPv6
/// addresses are counted per `/64` by default; see `ipv6PrefixLength`. An address whose count drops to zero
/// is forgotten, so the table holds only addresses with open connections.
public final class ConnectionLimiter: Sendable {
    /// `maxConnections`.
    public let maxConnections: Int
    /// `maxConnectionsPerIP`.
    public let maxConnectionsPerAddress: Int
    private let ipv6PrefixLength: Int
    private let state = NIOLockedValueBox(State())

    private struct State {
        var total = 0
        var perAddress: [ClientAddress: Int] = [:]
    }

    /// - Parameters:
    ///   - maxConnections: open connections on this node, all addresses together.
    ///   - maxConnectionsPerAddress: open connections from one address.
    ///   - ipv6PrefixLength: IPv6 addresses sharing this many leading bits count as one address. 64 by default,
    ///     because one subscriber usually holds a whole /64; 128 counts every address on its own.
    public init(maxConnections: Int, maxConnectionsPerAddress: Int, ipv6PrefixLength: Int = 64) {
        precondition(maxConnections >= 0 && maxConnectionsPerAddress >= 0, "connection limits cannot be negative")
        precondition((0...128).contains(ipv6PrefixLength), "an IPv6 prefix length is 0...128, got \(ipv6PrefixLength)")
        self.maxConnections = maxConnections
        self.maxConnectionsPerAddress = maxConnectionsPerAddress
        self.ipv6PrefixLength = ipv6PrefixLength
    }

    /// The limits `maxConnections` and `maxConnectionsPerIP` of a configuration.
    public convenience init(_ limits: LimitsConfiguration) {
        self.init(maxConnections: limits.maxConnections, maxConnectionsPerAddress: limits.maxConnectionsPerIP)
    }

    /// Counts one more connection from `ip`, or says which limit refuses it (nothing is counted then).
    ///
    /// - Parameter ip: the peer's address as the transport reports it: `1.2.3.4`, `1.2.3.4:5678`, `::1`,
    ///   `[::1]:8080`. Text that is not an IP address is counted as it is (lowercased), so pass one fixed
    ///   string, such as `"unknown"`, when the transport has no address.
    /// - Returns: a lease to keep for as long as the connection is open.
    public func acquire(ip: String) -> Result<ConnectionLease, ConnectionLimitRefusal> {
        let address = ClientAddress(ip, ipv6PrefixLength: self.ipv6PrefixLength)
        return self.state.withLockedValue { state in
            let fromAddress = state.perAddress[address, default: 0]
            // The per-address limit first: a peer over its own limit is told it is at fault (429), rather
            // than invited to retry on another node (503).
            guard fromAddress < self.maxConnectionsPerAddress else {
                return .failure(ConnectionLimitRefusal(limit: .perAddress, maximum: self.maxConnectionsPerAddress, address: address))
            }
            guard state.total < self.maxConnections else {
                return .failure(ConnectionLimitRefusal(limit: .total, maximum: self.maxConnections, address: address))
            }
            state.total += 1
            state.perAddress[address] = fromAddress + 1
            return .success(ConnectionLease(limiter: self, address: address))
        }
    }

    /// Open connections on this node.
    public var openConnections: Int {
        self.state.withLockedValue { $0.total }
    }

    /// Open connections counted under the same key as `ip` (its /64 for IPv6 by default).
    public func openConnections(ip: String) -> Int {
        let address = ClientAddress(ip, ipv6PrefixLength: self.ipv6PrefixLength)
        return self.state.withLockedValue { $0.perAddress[address, default: 0] }
    }

    /// Addresses with at least one open connection: the size of the table, which must never hold more.
    public var trackedAddresses: Int {
        self.state.withLockedValue { $0.perAddress.count }
    }

    /// Called once per lease, by the lease: it alone knows whether it was already released.
    fileprivate func release(_ address: ClientAddress) {
        self.state.withLockedValue { state in
            guard let count = state.perAddress[address], count > 0, state.total > 0 else {
                preconditionFailure("Internal inconsistency: releasing a connection from \(address) that was not counted")
            }
            state.total -= 1
            // Forget an address at zero, or the table would keep every address ever seen.
            state.perAddress[address] = count == 1 ? nil : count - 1
        }
    }
}

/// One counted connection. Release it when the connection closes; releasing again does nothing, and a
/// lease dropped without `release()` releases itself, so a connection is uncounted exactly once however
/// the closing paths (close handler, error path, shutdown) overlap.
public final class ConnectionLease: Sendable, CustomStringConvertible {
    private let limiter: ConnectionLimiter
    private let clientAddress: ClientAddress
    private let released = ManagedAtomic(false)

    fileprivate init(limiter: ConnectionLimiter, address: ClientAddress) {
        self.limiter = limiter
        self.clientAddress = address
    }

    /// The key the connection is counted under: `1.2.3.4`, or an IPv6 prefix such as `2001:db8::/64`.
    public var address: String { self.clientAddress.key }

    /// Whether ``release()`` has been called.
    public var isReleased: Bool { self.released.load(ordering: .acquiring) }

    /// Uncounts the connection. Safe to call more than once and from several threads: only the first call counts.
    public func release() {
        // The exchange makes "first caller wins" atomic: two closing paths racing cannot both decrement.
        guard !self.released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        self.limiter.release(self.clientAddress)
    }

    deinit {
        self.release()
    }

    public var description: String {
        "ConnectionLease(\(self.clientAddress)\(self.isReleased ? ", released" : ""))"
    }
}
