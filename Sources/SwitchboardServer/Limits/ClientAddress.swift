import NIOCore

/// The key a peer's connections are counted under: its IP address in one canonical spelling, whatever
/// form the transport reported it in.
///
/// Accepts `1.2.3.4`, `1.2.3.4:5678`, `::1`, `[::1]:8080`, `fe80::1%eth0`; IPv6 is written in the
/// RFC 5952 form (`2001:DB8:0::1` and `2001:db8::1` are one peer), and an IPv4-mapped IPv6 address
/// (`::ffff:1.2.3.4`, what a dual-stack listener reports) is the IPv4 address, so one client is not counted
/// under two names.
///
/// IPv6 addresses are grouped by prefix, `/64` by default: a single subscriber is usually given a whole
/// /64 and can pick a fresh address in it for every connection, so a per-address limit on full IPv6
/// addresses would not limit anyone.
struct ClientAddress: Sendable, Hashable, CustomStringConvertible {
    /// `1.2.3.4`, `2001:db8::1` (prefix 128) or `2001:db8:1:2::/64`; text that is no IP address, lowercased.
    let key: String

    var description: String { self.key }

    init(_ text: String, ipv6PrefixLength: Int = 64) {
        precondition((0...128).contains(ipv6PrefixLength), "an IPv6 prefix length is 0...128, got \(ipv6PrefixLength)")
        let host = Self.host(of: text)
        guard let address = try? SocketAddress(ipAddress: host, port: 0) else {
            // Not an IP address (a Unix socket path, a proxy's placeholder): still a stable key of its own.
            self.key = host.lowercased()
            return
        }
        switch address {
        case .v6(let v6):
            var bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            // RFC 4291 §2.5.5.2: ::ffff:0:0/96 carries an IPv4 address.
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                self.key = bytes[12...].map(String.init).joined(separator: ".")
                return
            }
            guard ipv6PrefixLength < 128 else {
                self.key = address.ipAddress ?? host
                return
            }
            for index in bytes.indices {
                let keep = max(0, min(8, ipv6PrefixLength - index * 8))
                bytes[index] &= keep == 8 ? 0xFF : ~(0xFF >> UInt8(keep))
            }
            let masked = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: bytes), port: 0)
            self.key = "\(masked?.ipAddress ?? host)/\(ipv6PrefixLength)"
        default:
            self.key = address.ipAddress ?? host
        }
    }

    /// The address part: without brackets, port or IPv6 zone, and without surrounding spaces.
    private static func host(of text: Substring) -> Substring {
        var host = text.drop(while: \.isWhitespace)
        while host.last?.isWhitespace == true { host = host.dropLast() }
        if host.first == "[", let close = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<close]      // [v6]:port
        } else if let colon = host.firstIndex(of: ":"), case let port = host[host.index(after: colon)...],
                  !port.isEmpty, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber) {
            host = host[..<colon]                                         // v4:port (IPv6 has several colons)
        }
        if let zone = host.firstIndex(of: "%") {
            host = host[..<zone]                                          // fe80::1%eth0: the zone names our interface
        }
        return host
    }

    private static func host(of text: String) -> String {
        String(Self.host(of: text[...]))
    }
}
