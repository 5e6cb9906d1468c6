/// A web origin (RFC 6454): scheme, host and port, normalised for comparison — lowercase scheme and host, the
/// scheme's default port written as no port — so `HTTPS://App.Example.com:443` equals `https://app.example.com`.
struct WebOrigin: Hashable, Sendable {
    var scheme: String
    /// Lowercase; an IPv6 address keeps its brackets, as in the Origin and Host headers.
    var host: String
    /// nil for the scheme's default port.
    var port: Int?

    /// The port the origin designates, when the scheme's default is known.
    var effectivePort: Int? { self.port ?? Self.defaultPort(self.scheme) }

    /// Parses the serialisation of RFC 6454 §6.2, `scheme://host[:port]`, as sent in an `Origin` header. With
    /// `allowingTrailingSlash`, a configured `https://app.example.com/` is accepted too; any other path is not.
    init?(_ text: some StringProtocol, allowingTrailingSlash: Bool = false) {
        var text = Substring(text)
        if allowingTrailingSlash, text.hasSuffix("/") { text = text.dropLast() }
        guard let separator = text.range(of: "://") else { return nil }
        let scheme = text[..<separator.lowerBound].lowercased()
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        guard let authority = Self.hostAndPort(text[separator.upperBound...]) else { return nil }
        self.scheme = scheme
        self.host = authority.host
        self.port = authority.port == Self.defaultPort(scheme) ? nil : authority.port
    }

    /// Splits `host[:port]` (a `Host` header, RFC 9110 §7.2, or the authority of an origin). Refuses userinfo,
    /// paths, queries, empty hosts and ports outside 0...65535.
    static func hostAndPort(_ text: Substring) -> (host: String, port: Int?)? {
        let host: Substring
        var rest: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[...close]
            rest = text[text.index(after: close)...]
        } else if let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            rest = text[colon...]
        } else {
            host = text
            rest = ""
        }
        // RFC 3986 §3.2.2: a reg-name or a bracketed IP literal. Anything else (userinfo, a path, spaces) is not a
        // host, and refusing it keeps odd bytes out of the reasons and logs that quote the origin.
        let literal = host.hasPrefix("[")
        guard host.count > (literal ? 2 : 0),
              host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._~%!$&'()*+,;=".contains($0)
                                                || (literal && "[]:".contains($0))) })
        else { return nil }
        var port: Int?
        if !rest.isEmpty {
            guard rest.first == ":" else { return nil }
            rest = rest.dropFirst()
            guard (1...5).contains(rest.count), rest.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let value = Int(rest), value <= 65535
            else { return nil }
            port = value
        }
        return (host.lowercased(), port)
    }

    static func defaultPort(_ scheme: String) -> Int? {
        switch scheme {
        case "http", "ws": 80
        case "https", "wss": 443
        default: nil
        }
    }
}
