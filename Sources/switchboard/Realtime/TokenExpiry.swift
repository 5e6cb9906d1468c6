import Foundation

/// When a JWT given on the command line expires, read without checking its signature (the server checks).
///
/// `switchboard connect --token` has one fixed token. The client SDK treats an expired token as a temporary
/// failure (its token provider is expected to fetch a new one) and would retry for ever; the command
/// instead stops with a clear message once the token it was given has expired.
enum TokenExpiry {
    /// The `exp` claim (RFC 7519 §4.1.4, seconds since 1970), or nil when the token is not a readable JWT.
    static func expiry(of token: String) -> Date? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let payload = Self.base64URLDecoded(parts[1]),
              let claims = try? JSONDecoder().decode(Claims.self, from: payload),
              let exp = claims.exp
        else { return nil }
        return Date(timeIntervalSince1970: exp)
    }

    private struct Claims: Decodable {
        var exp: Double?
    }

    /// RFC 7515 §2: base64url without padding.
    private static func base64URLDecoded(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
