/// Consistent hashing of channel names onto Redis servers, with virtual nodes.
///
/// Each server owns `virtualNodes` points on a 64-bit ring, placed by hashing `"host:port#i"`; a channel
/// belongs to the first point at or after its own hash. Adding a fifth server moves about a fifth of the
/// channels (all of them to the new server) instead of nearly all, as `hash % count` would; the virtual
/// nodes even out the share each server gets. The hash is FNV-1a with a final mix, fixed here rather than
/// Swift's `Hasher` (seeded per process): every node of a cluster must put a channel on the same server.
struct HashRing: Sendable {
    private let points: [(hash: UInt64, server: Int)]
    let serverCount: Int

    /// - Parameter servers: a stable name per server (its address); the order of the list does not matter.
    init(servers: [String], virtualNodes: Int = 160) {
        precondition(!servers.isEmpty, "a hash ring needs at least one server")
        precondition(Set(servers).count == servers.count, "servers on a hash ring must be distinct")
        var points: [(hash: UInt64, server: Int)] = []
        points.reserveCapacity(servers.count * max(1, virtualNodes))
        for (index, server) in servers.enumerated() {
            for node in 0..<max(1, virtualNodes) {
                points.append((Self.hash("\(server)#\(node)"), index))
            }
        }
        // Ties (vanishingly rare) are broken by server name, so the ring does not depend on list order.
        self.points = points.sorted { ($0.hash, servers[$0.server]) < ($1.hash, servers[$1.server]) }
        self.serverCount = servers.count
    }

    /// The index (into the `servers` given to `init`) of the server that owns `key`.
    func server(for key: String) -> Int {
        guard self.serverCount > 1 else { return 0 }
        let hash = Self.hash(key)
        // The first point at or after the key's hash, wrapping around to the first point.
        var low = 0
        var high = self.points.count
        while low < high {
            let middle = (low + high) / 2
            if self.points[middle].hash < hash { low = middle + 1 } else { high = middle }
        }
        return self.points[low == self.points.count ? 0 : low].server
    }

    /// FNV-1a over the UTF-8 bytes, then the SplitMix64 finalizer: FNV alone clusters short similar
    /// strings (`chat:1`, `chat:2`) on the ring.
    static func hash(_ key: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        hash = (hash ^ (hash >> 30)) &* 0xbf58_476d_1ce4_e5b9
        hash = (hash ^ (hash >> 27)) &* 0x94d0_49bb_1331_11eb
        return hash ^ (hash >> 31)
    }
}
