import Foundation

/// Decides whether a browser page may open a WebSocket or an event stream, from its `Origin` header.
///
/// A browser sends cookies and client certificates with a cross-site WebSocket upgrade, and the same-origin
/// policy does not stop the page from reading the answers: checking `Origin` is what prevents cross-site
/// WebSocket hijacking (RFC 6455 §10.2). The rules:
/// - no `Origin` header: allowed. Browsers always send one on a WebSocket upgrade (RFC 6455 §4.1), so its
///   absence means a non-browser client, which could forge any header anyway and must present a token.
/// - the server's own origin: allowed. The `Origin` host and port are compared with the `Host` header; the
///   scheme is not, because behind a TLS-terminating proxy the node cannot know whether the page was `https`.
/// - an origin in ``ServerConfiguration/allowedOrigins``: allowed, comparing scheme, host and port without case,
///   the scheme's default port being the same as none.
/// - `*` in the list allows every origin, `null` included: for development only.
/// - `null` (sandboxed iframes, `file:` pages, some redirects) is otherwise refused: every such page shares it,
///   so it cannot be allow-listed.
public struct OriginPolicy: Sendable {
    /// The answer for one request.
    public enum Decision: Sendable, Hashable {
        case allow
        /// Refuse with 403; `reason` is safe to put in the response body and the log.
        case refuse(reason: String)
    }

    private let allowsEveryOrigin: Bool
    private let allowed: Set<WebOrigin>

    /// Throws when an entry is not an origin (`scheme://host[:port]`), naming it: a typo here would otherwise
    /// silently lock the application's own pages out.
    public init(allowedOrigins: [String]) throws(ConfigurationError) {
        var allowsEveryOrigin = false
        var allowed = Set<WebOrigin>()
        for (index, entry) in allowedOrigins.enumerated() {
            let entry = entry.trimmingCharacters(in: .whitespaces)
            if entry == "*" {
                allowsEveryOrigin = true
            } else if entry.lowercased() == "null" {
                throw ConfigurationError(description: "allowedOrigins[\(index)]: null cannot be allowed, every sandboxed page sends it (use * in development)")
            } else if let origin = WebOrigin(entry, allowingTrailingSlash: true) {
                allowed.insert(origin)
            } else {
                throw ConfigurationError(description: "allowedOrigins[\(index)]: '\(entry)' is not an origin (scheme://host[:port])")
            }
        }
        self.allowsEveryOrigin = allowsEveryOrigin
        self.allowed = allowed
    }

    /// - Parameters:
    ///   - origin: the `Origin` header, nil when the request has none.
    ///   - host: the `Host` header (`example.com:8000`), nil when absent.
    public func decide(origin: String?, host: String?) -> Decision {
        guard let origin else { return .allow }
        if self.allowsEveryOrigin { return .allow }
        let value = origin.trimmingCharacters(in: .whitespaces)
        if value == "null" {
            return .refuse(reason: "Origin null (a sandboxed or local page) is not allowed")
        }
        // RFC 6454 §7.1 allows a list of origins; browsers send one, and a list cannot be judged as a whole.
        guard let parsed = WebOrigin(value) else {
            return .refuse(reason: "malformed Origin header")
        }
        if let host, let own = WebOrigin.hostAndPort(Substring(host.trimmingCharacters(in: .whitespaces))),
           parsed.host == own.host
        {
            // A Host without a port names the default port of the request's scheme; the page's origin matches when
            // it too uses its scheme's default port.
            let samePort = own.port.map { parsed.effectivePort == $0 } ?? (parsed.port == nil)
            if samePort { return .allow }
        }
        if self.allowed.contains(parsed) { return .allow }
        return .refuse(reason: "Origin \(value) is not allowed")
    }
}
