/// The Lua scripts behind ``RedisBroker``. Each runs atomically in Redis, which is what makes the broker's
/// contract hold across nodes: no other node's publish can come between reading the offset and appending.
///
/// Times come from Redis (`TIME`), not from the nodes, so nodes with skewed clocks agree on what expired.
/// (Redis 7 replicates script effects, not scripts, so `TIME` before writes is allowed.)
enum BrokerScripts {
    /// Shared prologue: the channel's epoch and offset, creating a fresh epoch (and dropping any stale
    /// history, whose ids would collide with the restarted offsets) when the position hash is gone.
    /// KEYS[1] position, KEYS[2] history; ARGV[1] a new epoch to use if needed, ARGV[2] position TTL (s).
    private static let position = """
        local epoch = redis.call('HGET', KEYS[1], 'e')
        local offset = 0
        if epoch then
          offset = tonumber(redis.call('HGET', KEYS[1], 'o'))
        else
          epoch = ARGV[1]
          redis.call('DEL', KEYS[2])
          redis.call('HSET', KEYS[1], 'e', epoch, 'o', 0)
        end
        redis.call('EXPIRE', KEYS[1], ARGV[2])
        local now = redis.call('TIME')
        local millis = now[1] .. string.format('%03d', math.floor(tonumber(now[2]) / 1000))
        """

    /// Offset, history, delivery as one step. ARGV[3] the body, ARGV[4] history size, ARGV[5] history
    /// seconds, ARGV[6] the pub/sub channel. Returns `{offset, epoch}`.
    ///
    /// With an idempotency key (KEYS[3], ARGV[7] its window in seconds): a key already used returns
    /// `{offset, epoch, 1}` with the first publish's position and publishes nothing; otherwise the key is
    /// set to this publish's position in the same step.
    static let publish = RedisScript(name: "publish", source: position + """

        if KEYS[3] then
          local first = redis.call('GET', KEYS[3])
          if first then
            local newline = string.find(first, '\\n', 1, true)
            return {tonumber(string.sub(first, 1, newline - 1)), string.sub(first, newline + 1), 1}
          end
        end
        offset = redis.call('HINCRBY', KEYS[1], 'o', 1)
        local size = tonumber(ARGV[4])
        local seconds = tonumber(ARGV[5])
        if size > 0 and seconds > 0 then
          -- Exact MAXLEN: the history holds precisely the configured number of publications.
          redis.call('XADD', KEYS[2], 'MAXLEN', size, offset .. '-0', 'b', ARGV[3], 't', millis)
          redis.call('EXPIRE', KEYS[2], seconds)
          if redis.call('TTL', KEYS[1]) < seconds then redis.call('EXPIRE', KEYS[1], seconds) end
        end
        redis.call('PUBLISH', ARGV[6], offset .. '\\n' .. epoch .. '\\n' .. ARGV[3])
        if KEYS[3] then redis.call('SET', KEYS[3], offset .. '\\n' .. epoch, 'EX', ARGV[7]) end
        return {offset, epoch}
        """)

    /// The position and, read at the same instant, the entries asked for. ARGV[3] mode: `none`, `latest`
    /// (ARGV[4] = count) or `since` (ARGV[4] = offset already seen, ARGV[5] = its epoch, ARGV[6] = most to
    /// return). `since` reads only when the epoch matches and the gap fits the limit: anything else is not
    /// recoverable and reading would be wasted. Returns `{epoch, offset, millis, entries}`.
    static let history = RedisScript(name: "history", source: position + """

        local entries = {}
        if ARGV[3] == 'latest' then
          entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', ARGV[4])
        elseif ARGV[3] == 'since' then
          local seen = tonumber(ARGV[4])
          if ARGV[5] == epoch and seen < offset and offset - seen <= tonumber(ARGV[6]) then
            entries = redis.call('XRANGE', KEYS[2], (seen + 1) .. '-0', '+', 'COUNT', offset - seen)
          end
        end
        return {epoch, offset, millis, entries}
        """)

    /// KEYS[1] presence expiry zset, KEYS[2] presence info hash; ARGV[1] client id, ARGV[2] info JSON,
    /// ARGV[3] TTL seconds.
    static let addPresence = RedisScript(name: "addPresence", source: """
        local now = redis.call('TIME')
        local millis = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local ttl = tonumber(ARGV[3])
        redis.call('ZADD', KEYS[1], millis + ttl * 1000, ARGV[1])
        redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
        -- The keys live as long as their longest-lived entry, so a channel whose nodes all died empties itself.
        for _, key in ipairs(KEYS) do
          if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
        end
        return 1
        """)

    static let removePresence = RedisScript(name: "removePresence", source: """
        redis.call('ZREM', KEYS[1], ARGV[1])
        redis.call('HDEL', KEYS[2], ARGV[1])
        return 1
        """)

    /// Drops expired entries, then returns the info of everyone left.
    static let presence = RedisScript(name: "presence", source: """
        local now = redis.call('TIME')
        local millis = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
        local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', millis)
        if #expired > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', millis)
          -- In slices: unpack of a long list would overflow Lua's stack.
          for first = 1, #expired, 500 do
            redis.call('HDEL', KEYS[2], unpack(expired, first, math.min(first + 499, #expired)))
          end
        end
        return redis.call('HVALS', KEYS[2])
        """)

    /// KEYS[1] the ticket. The grant the first time, then an empty string (kept with the ticket's remaining
    /// life, so a second use reads "already used"); nil for a ticket never stored or expired. One script, so
    /// of two nodes redeeming at once exactly one gets the grant.
    static let redeemTicket = RedisScript(name: "redeemTicket", source: """
        local grant = redis.call('GET', KEYS[1])
        if not grant then return false end
        if grant == '' then return '' end
        redis.call('SET', KEYS[1], '', 'KEEPTTL')
        return grant
        """)
}
