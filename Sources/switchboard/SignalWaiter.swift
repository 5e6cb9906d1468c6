import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits for SIGINT or SIGTERM, so a server can shut down gracefully.
enum SignalWaiter {
    static func waitForTermination() async -> Int32 {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "switchboard.signals")
            var sources: [any DispatchSourceSignal] = []
            let once = OnceFlag()
            for number in [SIGINT, SIGTERM] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    if once.set() {
                        for source in sources { source.cancel() }
                        continuation.resume(returning: number)
                    }
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}

/// Set once, from the signal queue only.
private final class OnceFlag: @unchecked Sendable {
    private var done = false
    func set() -> Bool {
        if done { return false }
        done = true
        return true
    }
}
