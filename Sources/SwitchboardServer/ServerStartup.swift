import NIOConcurrencyHelpers
import NIOCore

/// Whether a node has started listening, for whoever waits for it (`switchboard serve` prints its address
/// only then): the address, or why start-up failed. Every waiter is answered, whichever comes first.
final class ServerStartup: Sendable {
    private enum State {
        case waiting([CheckedContinuation<SocketAddress, any Error>])
        case listening(SocketAddress)
        case failed(any Error)
    }

    private let state = NIOLockedValueBox(State.waiting([]))

    func listening(on address: SocketAddress) { self.settle(.listening(address)) }

    func failed(_ error: any Error) { self.settle(.failed(error)) }

    /// Returns once the node listens; throws what stopped it.
    func wait() async throws -> SocketAddress {
        try await withCheckedThrowingContinuation { continuation in
            let outcome: Result<SocketAddress, any Error>? = self.state.withLockedValue { state in
                switch state {
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                case .listening(let address): return .success(address)
                case .failed(let error): return .failure(error)
                }
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The first outcome stands: a node that stops after listening was still listening.
    private func settle(_ outcome: State) {
        let waiters = self.state.withLockedValue { state -> [CheckedContinuation<SocketAddress, any Error>] in
            guard case .waiting(let waiters) = state else { return [] }
            state = outcome
            return waiters
        }
        for waiter in waiters {
            switch outcome {
            case .listening(let address): waiter.resume(returning: address)
            case .failed(let error): waiter.resume(throwing: error)
            case .waiting: break
            }
        }
    }
}

/// Why a node could not start, in words an operator can act on.
public struct ServerStartError: Error, CustomStringConvertible {
    public let description: String

    init(listeningOn host: String, port: Int, _ error: any Error) {
        let reason: String
        switch (error as? IOError)?.errnoCode {
        case 98?: reason = "the address is already in use (another process listens on that port)"
        case 13?: reason = "permission denied (ports below 1024 need privileges)"
        case 99?: reason = "the address is not available on this machine"
        default: reason = "\(error)"
        }
        self.description = "cannot listen on \(host):\(port): \(reason)"
    }

    init(_ description: String) { self.description = description }
}
