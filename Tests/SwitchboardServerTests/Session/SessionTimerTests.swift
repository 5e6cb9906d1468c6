import NIOCore
import SwitchboardProtocol
import SwitchboardTestSupport
import SwitchboardWebSocket
import Testing
@testable import SwitchboardServer

/// A session's timers on a clock the test moves (``TestSession``): each deadline checked a nanosecond
/// before and at it, which no wall-clock test can do on a loaded machine. The end-to-end suites check the
/// same behaviour over a socket, for what goes over the wire.
@Suite struct SessionTimerTests {
    @Test func aClientThatNeverConnectsIsDisconnectedAtTheConnectTimeout() async throws {
        let session = try await TestSession.make { $0.limits.connectTimeout = 10 }
        try await session.open()
        await session.advance(by: .seconds(10) - .nanoseconds(1))
        #expect(session.disconnect == nil, "disconnected before the connect timeout")
        await session.advance(by: .nanoseconds(1))
        #expect(session.disconnect?.code == .unauthorized)
        await session.shutdown()
    }

    @Test func aConnectedClientHasNoConnectTimeout() async throws {
        let session = try await TestSession.make { $0.limits.connectTimeout = 10 }
        try await session.open()
        guard case .reply(_, .connect) = try await session.request(.connect(.init(token: try await session.token("alice", ttl: 3600)))) else {
            throw EndToEndFailure("connect refused: \(session.messages)")
        }
        await session.advance(by: .seconds(600))
        #expect(session.disconnect == nil)
        await session.shutdown()
    }

    /// At expiry: error 109 without an id; `tokenRefreshGrace` later, with no refresh: 4003.
    @Test func anExpiredTokenGets109AtExpiryAndIsDisconnectedWhenTheGraceEnds() async throws {
        let session = try await TestSession.make { $0.limits.tokenRefreshGrace = 25 }
        try await session.open(token: try await session.token("alice", ttl: 60))
        guard case .reply(_, .connect(let result)) = try await session.request(.connect(.init())) else {
            throw EndToEndFailure("connect refused: \(session.messages)")
        }
        #expect(result.expires == 60)

        await session.advance(by: .seconds(60) - .nanoseconds(1))
        #expect(session.pushes.isEmpty, "told before the token expired: \(session.pushes)")
        await session.advance(by: .nanoseconds(1))
        guard case .error(nil, let error)? = session.pushes.first else {
            throw EndToEndFailure("expected error 109 at expiry, got \(session.messages)")
        }
        #expect(error.code == .tokenExpired)

        await session.advance(by: .seconds(25) - .nanoseconds(1))
        #expect(session.disconnect == nil, "disconnected before the grace period ended")
        await session.advance(by: .nanoseconds(1))
        #expect(session.disconnect?.code == .tokenExpired)
        await session.shutdown()
    }

    /// A refresh within the grace keeps the session past it, until the new token expires in its turn.
    @Test func aRefreshWithinTheGraceKeepsTheSessionUntilTheNewTokenExpires() async throws {
        let session = try await TestSession.make { $0.limits.tokenRefreshGrace = 25 }
        try await session.open(token: try await session.token("alice", ttl: 60))
        _ = try await session.request(.connect(.init()))
        await session.advance(by: .seconds(60))
        #expect(session.pushes.count == 1)

        // Late in the grace, and with another user's token first (refused, and no refresh).
        await session.advance(by: .seconds(20))
        guard case .error(_, let refused) = try await session.request(.refresh(.init(token: try await session.token("mallory", ttl: 600)))) else {
            throw EndToEndFailure("another user's token refreshed the session")
        }
        #expect(refused.code == .permissionDenied)
        #expect(try await session.request(.refresh(.init(token: try await session.token("alice", ttl: 600)))) == .reply(id: 3, .refresh(.init(expires: 600))))

        // Past the old grace (5 s left of it) and almost to the new expiry: still connected, told nothing more.
        await session.advance(by: .seconds(600) - .nanoseconds(1))
        #expect(session.disconnect == nil)
        #expect(session.pushes.count == 1, "\(session.pushes)")
        await session.advance(by: .nanoseconds(1))
        #expect(session.pushes.count == 2, "the new token's expiry: \(session.pushes)")
        #expect(session.disconnect == nil)
        await session.shutdown()
    }

    /// Burst 5 at 1 command per second, three strikes: the bucket refills with the loop's time, and a command
    /// accepted after a refill clears the strikes.
    @Test func theRateLimitRefillsWithTimeAndAnAcceptedCommandClearsTheStrikes() async throws {
        let session = try await TestSession.make {
            $0.limits.commandsPerSecond = 1
            $0.limits.commandBurst = 5
            $0.limits.rateLimitStrikes = 3
        }
        try await session.open()
        _ = try await session.request(.connect(.init(token: try await session.token("alice", ttl: 3600))))

        func ping() async throws -> ErrorCode? {
            switch try await session.request(.ping) {
            case .reply(_, .ping): nil
            case .error(_, let error): error.code
            case let other: throw EndToEndFailure("unexpected answer to ping: \(other)")
            }
        }
        // Four left after connect, then two strikes.
        for _ in 0..<4 { #expect(try await ping() == nil) }
        #expect(try await ping() == .rateLimited)
        #expect(try await ping() == .rateLimited)
        // Not quite a second: still empty (and a third strike would disconnect, so look without spending).
        await session.advance(by: .seconds(1) - .nanoseconds(1))
        #expect(session.disconnect == nil)
        await session.advance(by: .nanoseconds(1))
        // One token refilled: accepted, and the strikes start over.
        #expect(try await ping() == nil)
        #expect(try await ping() == .rateLimited)
        #expect(try await ping() == .rateLimited)
        #expect(session.disconnect == nil, "the strikes before the refill still counted")
        // The third strike in a row disconnects.
        try await session.send(.ping)
        #expect(try await poll("the disconnect") { session.disconnect }.code == .rateLimited)
        await session.shutdown()
    }
}
