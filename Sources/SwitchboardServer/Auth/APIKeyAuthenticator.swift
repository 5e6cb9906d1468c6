import Crypto
import Foundation

/// Checks the `Authorization` header of a back-end HTTP API request against ``ServerConfiguration/apiKeys``.
///
/// Accepted forms (the scheme is case-insensitive, RFC 9110 §11.1):
/// - `Authorization: apikey <key>`, the documented one;
/// - `Authorization: Bearer <key>`, because many HTTP clients, API gateways and webhook senders can only send
///   bearer credentials. A JWT sent this way is simply an unknown key: client tokens never open the API.
///
/// Keys are compared in constant time: both sides are hashed with SHA-256 and every configured digest is
/// compared in full, so the time taken says nothing about how much of a key, or which key, was right.
public struct APIKeyAuthenticator: Sendable {
    /// The answer for one request.
    public enum Decision: Sendable, Hashable {
        case allow
        /// Refuse with 401; `reason` is safe to put in the response body and the log (it never quotes the key).
        case refuse(reason: String)
    }

    private let digests: [[UInt8]]

    /// Empty keys are ignored: an empty key would admit an empty credential.
    public init(keys: [String]) {
        self.digests = keys.filter { !$0.isEmpty }.map { Array(SHA256.hash(data: Array($0.utf8))) }
    }

    /// False when no key is configured: the HTTP API is then disabled and every request refused.
    public var isEnabled: Bool { !self.digests.isEmpty }

    /// - Parameter authorization: the `Authorization` header, nil when the request has none.
    public func authenticate(authorization: String?) -> Decision {
        guard self.isEnabled else {
            return .refuse(reason: "the HTTP API is disabled: no API keys are configured")
        }
        guard let authorization else {
            return .refuse(reason: "missing Authorization header (Authorization: apikey <key>)")
        }
        // RFC 9110 §11.4: credentials = auth-scheme [ 1*SP token68 ]
        let trimmed = authorization.drop(while: { $0 == " " || $0 == "\t" })
        let scheme = trimmed.prefix(while: { $0 != " " && $0 != "\t" })
        let key = trimmed.dropFirst(scheme.count).trimmingCharacters(in: .whitespaces)
        guard ["apikey", "bearer"].contains(scheme.lowercased()) else {
            return .refuse(reason: "unsupported authorization scheme (use Authorization: apikey <key>)")
        }
        guard !key.isEmpty else {
            return .refuse(reason: "empty API key")
        }
        let presented = Array(SHA256.hash(data: Array(key.utf8)))
        // No early exit: every configured digest is compared byte by byte whatever happens.
        var matched: UInt8 = 0
        for digest in self.digests {
            var difference: UInt8 = 0
            for index in 0..<digest.count { difference |= digest[index] ^ presented[index] }
            // The result of each comparison is not secret (it is the answer); the bytes compared are.
            matched |= difference == 0 ? 1 : 0
        }
        return matched == 1 ? .allow : .refuse(reason: "unknown API key")
    }
}

