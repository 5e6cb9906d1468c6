import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers
import NIOCore

/// How many sockets a server may hold open so that its process never reaches its descriptor limit.
///
/// At the limit nothing in the process can open a file: NIO backs off from `accept`, but Redis reconnects,
/// log files, and on Linux libdispatch's worker monitor (it reads `/proc`, and traps when it cannot) all
/// fail with it. So a server keeps a reserve and refuses connections beyond ``socketLimit``.
public struct DescriptorBudget: Sendable, Hashable {
    /// The process's descriptor limit (soft `RLIMIT_NOFILE`).
    public var descriptorLimit: Int

    public init(descriptorLimit: Int) {
        self.descriptorLimit = descriptorLimit
    }

    /// The budget of this process, or nil when the limit is unlimited or cannot be read.
    public static var current: DescriptorBudget? {
        var limit = rlimit()
        // RLIM_INFINITY does not import on Linux; it is far above Int32.max, as is any limit worth budgeting.
        guard getrlimit(Self.noFileResource, &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) else { return nil }
        return DescriptorBudget(descriptorLimit: Int(limit.rlim_cur))
    }

    #if os(Linux)
    private static let noFileResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let noFileResource = RLIMIT_NOFILE
    #endif

    /// Descriptors kept for everything but client sockets: the listener, files, outbound connections, and
    /// sockets accepted only to be refused (an application limit answers them before closing).
    public var reserve: Int { max(64, self.descriptorLimit / 100) }

    /// Open sockets the transport accepts at most; past it, a new connection is closed as soon as it is accepted.
    public var socketLimit: Int { max(1, self.descriptorLimit - self.reserve) }

    /// Connections an application should serve at most: below ``socketLimit`` by as much again, so that
    /// the connections it refuses (with a status and a reason) still find descriptors to be refused with.
    public var connectionLimit: Int { max(1, self.descriptorLimit - 4 * self.reserve) }
}

/// Counts the sockets a server has accepted and refuses those beyond its limit.
final class OpenSocketGate: Sendable {
    let limit: Int
    private let state = NIOLockedValueBox((open: 0, refused: 0))

    init(limit: Int) {
        self.limit = limit
    }

    var open: Int { self.state.withLockedValue { $0.open } }
    var refused: Int { self.state.withLockedValue { $0.refused } }

    /// Counts `channel` until it closes and returns true, or returns false (counting a refusal) when the
    /// server already holds ``limit`` sockets.
    func admit(_ channel: any Channel) -> Bool {
        let admitted = self.admitSocket()
        if admitted {
            channel.closeFuture.whenComplete { _ in self.release() }
        }
        return admitted
    }

    /// Counts one socket (until ``release()``) and returns true, or counts a refusal and returns false.
    func admitSocket() -> Bool {
        self.state.withLockedValue { state -> Bool in
            guard state.open < self.limit else {
                state.refused += 1
                return false
            }
            state.open += 1
            return true
        }
    }

    func release() {
        self.state.withLockedValue { $0.open -= 1 }
    }

    /// Warns of refusals, the first and every thousandth (a full server refuses many in a row).
    func logRefusal(_ logger: Logger) {
        let refused = self.refused
        if refused == 1 || refused.isMultiple(of: 1_000) {
            logger.warning("Refusing connections: the server holds its maximum of open sockets",
                           metadata: ["maximumOpenSockets": "\(self.limit)", "refused": "\(refused)"])
        }
    }
}
