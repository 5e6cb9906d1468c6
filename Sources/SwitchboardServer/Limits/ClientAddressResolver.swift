import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The address a connection is counted under (`maxConnectionsPerIP`) and logged with.
///
/// Behind a reverse proxy every connection comes from the proxy, which would put all clients under one
/// address; the proxy says who the client was in `X-Forwarded-For`. That header is believed only from a
/// configured proxy (anyone else could write it): the client is the rightmost address in the chain that is
/// not a trusted proxy, since each proxy appends the address it received the request from.
struct ClientAddressResolver: Sendable {
    private let trusted: [Network]

    /// `trustedProxies`: addresses (`127.0.0.1`, `::1`) or networks (`10.0.0.0/8`, `fd00::/8`).
    init(trustedProxies: [String]) throws(ConfigurationError) {
        self.trusted = try trustedProxies.map { entry throws(ConfigurationError) in
            guard let network = Network(entry) else {
                throw ConfigurationError(description: "trustedProxies: '\(entry)' is not an IP address or network (a.b.c.d[/n], IPv6[/n])")
            }
            return network
        }
    }

    /// `peer` is the connection's address, `forwardedFor` the values of its `X-Forwarded-For` headers.
    func clientAddress(peer: String?, forwardedFor: [String]) -> String {
        guard let peer else { return "unknown" }
        guard self.isTrusted(peer), !forwardedFor.isEmpty else { return peer }
        let chain = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for address in chain.reversed() where !address.isEmpty {
            // A hop that is not an address at all ends what can be believed: count under the last proxy.
            guard Network(address)?.isSingleAddress == true else { return peer }
            if !self.isTrusted(address) { return address }
        }
        return peer
    }

    private func isTrusted(_ address: String) -> Bool {
        guard !self.trusted.isEmpty, let bytes = Network.bytes(of: address) else { return false }
        return self.trusted.contains { $0.contains(bytes) }
    }
}

/// An IPv4 or IPv6 network: address bytes and a prefix length.
private struct Network: Sendable {
    let bytes: [UInt8]
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let bytes = Self.bytes(of: parts[0]) else { return nil }
        let maximum = bytes.count * 8
        if parts.count == 2 {
            guard let prefix = Int(parts[1]), (0...maximum).contains(prefix) else { return nil }
            self.prefix = prefix
        } else {
            self.prefix = maximum
        }
        self.bytes = bytes
    }

    var isSingleAddress: Bool { self.prefix == self.bytes.count * 8 }

    func contains(_ address: [UInt8]) -> Bool {
        guard address.count == self.bytes.count else { return false }
        var remaining = self.prefix
        for (mine, theirs) in zip(self.bytes, address) where remaining > 0 {
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if mine & mask != theirs & mask { return false }
            remaining -= bits
        }
        return true
    }

    /// 4 bytes for IPv4, 16 for IPv6; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) counts as IPv4.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}
