import Logging
import NIOCore
import NIOPosix

/// One TCP connection to Redis speaking RESP3, with commands pipelined on it.
///
/// Does not reconnect: ``RedisClient`` owns connections and replaces one that closes.
final class RedisConnection: Sendable {
    let channel: any Channel
    let address: RedisAddress
    private let commandTimeout: Duration

    private init(channel: any Channel, address: RedisAddress, commandTimeout: Duration) {
        self.channel = channel
        self.address = address
        self.commandTimeout = commandTimeout
    }

    /// Connects and switches the connection to RESP3 (`HELLO 3`), so pub/sub messages arrive as pushes and
    /// can share the connection with replies.
    static func connect(to address: RedisAddress, on eventLoop: any EventLoop, configuration: RedisClientConfiguration,
                        onPush: @escaping @Sendable ([RESPValue]) -> Void) async throws -> RedisConnection {
        let limits = configuration.decoderLimits
        let channel: any Channel
        do {
            let bootstrap = ClientBootstrap(group: eventLoop)
                .connectTimeout(TimeAmount(configuration.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder(limits: limits)))
                        try channel.pipeline.syncOperations.addHandler(RedisCommandHandler(onPush: onPush))
                    }
                }
            // An IP address needs no resolver (NIO's happy-eyeballs resolution would add latency to every
            // reconnect attempt); a host name does.
            if let ip = try? SocketAddress(ipAddress: address.host, port: address.port) {
                channel = try await bootstrap.connect(to: ip).get()
            } else {
                channel = try await bootstrap.connect(host: address.host, port: address.port).get()
            }
        } catch {
            throw RedisClientError.unavailable(address, "\(error)")
        }
        let connection = RedisConnection(channel: channel, address: address, commandTimeout: configuration.commandTimeout)
        do {
            var hello = ["3"]
            if let password = configuration.password { hello += ["AUTH", configuration.username ?? "default", password] }
            guard case .map = try await connection.send(RedisCommand("HELLO", hello)) else {
                throw RedisClientError.protocolError("HELLO 3 was not answered with a map (Redis 6 or later is needed)")
            }
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return connection
    }

    /// Sends a command and waits for its reply, at most the configured command timeout.
    func send(_ command: RedisCommand) async throws -> RESPValue {
        let promise = self.channel.eventLoop.makePromise(of: RESPValue.self)
        // A write to a channel that has already closed never reaches the handler (which would fail the reply
        // and arm the timeout), so the reply would wait for ever: fail it with the write. (A reply the handler
        // already completed ignores this second completion.)
        let written = self.channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in promise.fail(RedisClientError.connectionClosed) }
        self.channel.writeAndFlush(RedisRequest(command: command, reply: promise, timeout: self.commandTimeout), promise: written)
        return try await promise.futureResult.get()
    }

    /// Sends commands back to back, in order, with one flush (a pipeline: one round trip for all), and
    /// returns their replies in the same order. Each reply fails or succeeds on its own, as with `send`.
    func send(pipelined commands: [RedisCommand]) -> [EventLoopFuture<RESPValue>] {
        let eventLoop = self.channel.eventLoop
        let replies = commands.map { _ in eventLoop.makePromise(of: RESPValue.self) }
        let channel = self.channel
        let timeout = self.commandTimeout
        eventLoop.execute {
            for (command, reply) in zip(commands, replies) {
                let written = eventLoop.makePromise(of: Void.self)
                written.futureResult.whenFailure { _ in reply.fail(RedisClientError.connectionClosed) }
                channel.write(RedisRequest(command: command, reply: reply, timeout: timeout), promise: written)
            }
            channel.flush()
        }
        return replies.map(\.futureResult)
    }

    /// Sends a command whose answers come as pushes (SUBSCRIBE, UNSUBSCRIBE in RESP3).
    func sendExpectingPushes(_ command: RedisCommand) {
        self.channel.writeAndFlush(RedisRequest(command: command, reply: nil, timeout: nil), promise: nil)
    }

    var closeFuture: EventLoopFuture<Void> { self.channel.closeFuture }

    func close() {
        self.channel.close(promise: nil)
    }
}
