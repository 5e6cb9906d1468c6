import NIOConcurrencyHelpers

/// How long a test waits for something that should happen. A passing test goes on as soon as it happens;
/// the bound only decides how long a failure takes to show, so it is a guard against hangs, never a measure
/// of speed: CI runs every suite at once on two cores, and a loaded machine can delay a loopback answer by
/// seconds (STYLE.md rule 17).
public enum TestPatience {
    public static let `default`: Duration = .seconds(30)
}

/// A wait that ran out of patience: what was awaited did not happen.
public struct TestTimeout: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Polls `condition` (every few milliseconds) until it returns a value, and returns it; throws
/// ``TestTimeout`` naming `what` when `timeout` passes first.
public func poll<Value>(_ what: @autoclosure () -> String, within timeout: Duration = TestPatience.default,
                        _ condition: () async throws -> Value?) async throws -> Value {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await condition() { return value }
        guard ContinuousClock.now < deadline else { throw TestTimeout("no \(what()) within \(timeout)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Polls `condition` until it holds; false if it still does not when `timeout` has passed.
public func eventually(within timeout: Duration = TestPatience.default, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(5))
    }
}

/// Runs `body`, failing with ``TestTimeout`` if it has not finished after `timeout`, so that a regression
/// shows as a failure rather than a hung run. Only a guard: it says nothing about how fast `body` was.
///
/// On timeout `body` is cancelled and left behind: a hung call that ignores cancellation (a server's
/// shutdown waiting out its grace period) must not hold the test up as well.
public func withTimeout<Value: Sendable>(_ timeout: Duration = TestPatience.default, _ what: String = "operation",
                                         _ body: @escaping @Sendable () async throws -> Value) async throws -> Value {
    let outcome = NIOLockedValueBox<CheckedContinuation<Value, any Error>?>(nil)
    let finish: @Sendable (Result<Value, any Error>) -> Void = { result in
        outcome.withLockedValue { continuation in
            continuation?.resume(with: result)
            continuation = nil
        }
    }
    let timer = NIOLockedValueBox<Task<Void, Never>?>(nil)
    return try await withCheckedThrowingContinuation { continuation in
        outcome.withLockedValue { $0 = continuation }
        let work = Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
            timer.withLockedValue { $0?.cancel() }
        }
        timer.withLockedValue {
            $0 = Task {
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                work.cancel()
                finish(.failure(TestTimeout("\(what) did not finish within \(timeout)")))
            }
        }
    }
}
