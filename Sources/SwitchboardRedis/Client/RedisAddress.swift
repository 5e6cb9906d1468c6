/// Where a Redis server listens.
public struct RedisAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int = 6379) {
        self.host = host
        self.port = port
    }

    /// `host:port`: also the name of this server on the hash ring, so shards depend on the addresses,
    /// not on the order they are listed in.
    public var description: String { "\(self.host):\(self.port)" }

    /// Reads `redis://host:port`, several separated by commas (`redis://a:6379,b:6379`), or plain `host:port`.
    /// Returns nil for anything else.
    public static func parseList(_ text: String) -> [RedisAddress]? {
        var rest = Substring(text)
        if rest.hasPrefix("redis://") { rest = rest.dropFirst("redis://".count) }
        let addresses = rest.split(separator: ",", omittingEmptySubsequences: false).map { part -> RedisAddress? in
            var part = part
            if part.hasPrefix("redis://") { part = part.dropFirst("redis://".count) }
            if part.hasSuffix("/") { part = part.dropLast() }
            guard !part.isEmpty else { return nil }
            guard let colon = part.lastIndex(of: ":") else { return RedisAddress(host: String(part)) }
            guard let port = Int(part[part.index(after: colon)...]), (1...65535).contains(port), colon > part.startIndex else { return nil }
            return RedisAddress(host: String(part[..<colon]), port: port)
        }
        guard !addresses.isEmpty, !addresses.contains(where: { $0 == nil }) else { return nil }
        return addresses.compactMap { $0 }
    }
}
