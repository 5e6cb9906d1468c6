import NIOConcurrencyHelpers

/// A Lua script run by its SHA-1 (`EVALSHA`), so each call sends a 40-character digest instead of the
/// source.
///
/// The digest comes from `SCRIPT LOAD` on first use. A server that does not know the script (restarted,
/// failed over, `SCRIPT FLUSH`) answers `NOSCRIPT`; the call is then repeated with `EVAL`, which also caches
/// the script there again. Scripts run atomically in Redis: nothing else runs between their commands.
final class RedisScript: Sendable {
    let name: String
    let source: String
    private let digest = NIOLockedValueBox<String?>(nil)

    init(name: String, source: String) {
        self.name = name
        self.source = source
    }

    /// Runs the script once per call, in order, as one pipeline. The first call goes as `EVAL` (with the
    /// source, which caches the script on that server), the rest by digest: Redis runs a connection's commands
    /// in order, so they find it, and no call ever needs the `NOSCRIPT` retry that could reorder them.
    func run(pipelined calls: [(keys: [String], arguments: [String])], on client: RedisClient) async -> [Result<RESPValue, any Error>] {
        guard let first = calls.first else { return [] }
        // The digest is SHA-1 of the source; Redis answers EVAL's caching with nothing to read it from.
        let digest = self.digest.withLockedValue { $0 }
        var commands = [RedisCommand("EVAL", [self.source, String(first.keys.count)] + first.keys + first.arguments)]
        for call in calls.dropFirst() {
            let tail = [String(call.keys.count)] + call.keys + call.arguments
            commands.append(digest.map { RedisCommand("EVALSHA", [$0] + tail) } ?? RedisCommand("EVAL", [self.source] + tail))
        }
        return await client.send(pipelined: commands)
    }

    func run(on client: RedisClient, keys: [String], arguments: [String]) async throws -> RESPValue {
        let digest: String
        if let known = self.digest.withLockedValue({ $0 }) {
            digest = known
        } else {
            let reply = try await client.send(RedisCommand("SCRIPT", ["LOAD", self.source]))
            guard let loaded = reply.string else { throw RedisClientError.unexpectedReply("SCRIPT LOAD", reply) }
            // The digest is SHA-1 of the source: the same on every server, so one cache serves all shards.
            self.digest.withLockedValue { $0 = loaded }
            digest = loaded
        }
        let tail = [String(keys.count)] + keys + arguments
        do {
            return try await client.send(RedisCommand("EVALSHA", [digest] + tail))
        } catch let error as RedisClientError where error.serverErrorCode == "NOSCRIPT" {
            return try await client.send(RedisCommand("EVAL", [self.source] + tail))
        }
    }
}
