import Logging
import SwitchboardWebSocketNIO

extension RealtimeServer {
    /// `maxConnections`, lowered to what the process's descriptor limit can serve: a node that ran out of
    /// descriptors could not reach Redis or refuse anyone properly (and on Linux the Swift runtime traps).
    /// Beyond it, connections are refused with 503 like any over the limit.
    static func connectionLimit(_ configured: Int, budget: DescriptorBudget?, logger: Logger) -> Int {
        guard let budget, configured > budget.connectionLimit else { return configured }
        logger.warning("maxConnections is more than the descriptor limit allows; serving fewer (raise the limit with `ulimit -n`)", metadata: [
            "maxConnections": "\(configured)", "descriptorLimit": "\(budget.descriptorLimit)", "serving": "\(budget.connectionLimit)",
        ])
        return budget.connectionLimit
    }
}
