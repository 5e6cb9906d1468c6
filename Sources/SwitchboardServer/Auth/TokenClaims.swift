import Foundation
import SwitchboardProtocol

/// The claims of a token, kept as a plain JSON object so that a claim of the wrong type is reported by name
/// (`exp must be a NumericDate`) instead of as an opaque decoding failure, and read into ``Credentials``.
struct TokenClaims {
    var claims: [String: JSONValue]

    /// The credentials these claims grant at `now`, or why they grant none.
    ///
    /// Order matters for the answer a client gets: the shape of the claims first, then whom the token is for
    /// (`iss`, `aud`: a fresh token would be refused again), then time (a fresh token would do).
    func credentials(now: Date, audience: String?, issuer: String?, leeway: TimeInterval) throws(TokenError) -> Credentials {
        guard let user = try self.string("sub"), !user.isEmpty else {
            throw TokenError(.missingClaim, "the token has no sub (the user id)")
        }
        // Only short-lived tokens are accepted: a token that never expires could not be revoked.
        guard let expiresAt = try self.date("exp") else {
            throw TokenError(.missingClaim, "the token has no exp: only tokens that expire are accepted")
        }
        let notBefore = try self.date("nbf")
        let issuedAt = try self.date("iat")
        let channels = try self.strings("channels") ?? []
        let info = try self.object("info")

        if let issuer {
            let actual = try self.string("iss")
            guard actual == issuer else {
                throw TokenError(.wrongIssuer, actual.map { "the token's iss is '\($0)', not '\(issuer)'" } ?? "the token has no iss; '\(issuer)' is required")
            }
        }
        if let audience {
            // RFC 7519 §4.1.3: aud is one string or an array of strings; ours must be among them.
            let actual: [String]? = switch self.claims["aud"] {
            case .string(let value): [value]
            default: try self.strings("aud")
            }
            guard let actual, actual.contains(audience) else {
                throw TokenError(.wrongAudience, "the token's aud does not include '\(audience)'")
            }
        }

        // RFC 7519 §4.1.4: the current time MUST be before exp, with "some small leeway" for clock skew.
        guard now < expiresAt.addingTimeInterval(leeway) else {
            throw TokenError(.expired, "the token expired at \(Self.format(expiresAt))")
        }
        // RFC 7519 §4.1.5: the current time MUST be after or equal to nbf.
        if let notBefore, now.addingTimeInterval(leeway) < notBefore {
            throw TokenError(.notYetValid, "the token is not valid before \(Self.format(notBefore))")
        }
        // A token issued in the future means a skewed issuer clock or a forged iat: refuse rather than guess.
        if let issuedAt, now.addingTimeInterval(leeway) < issuedAt {
            throw TokenError(.notYetValid, "the token was issued in the future (\(Self.format(issuedAt)))")
        }
        return Credentials(user: user, expiresAt: expiresAt, channels: channels, info: info)
    }

    // A null claim is treated as absent: some issuers write every optional claim.

    private func string(_ name: String) throws(TokenError) -> String? {
        switch self.claims[name] {
        case nil, .null: return nil
        case .string(let value): return value
        default: throw TokenError(.malformed, "\(name) must be a string")
        }
    }

    private func strings(_ name: String) throws(TokenError) -> [String]? {
        switch self.claims[name] {
        case nil, .null:
            return nil
        case .array(let values):
            var strings = [String]()
            for value in values {
                guard case .string(let string) = value else { throw TokenError(.malformed, "\(name) must be an array of strings") }
                strings.append(string)
            }
            return strings
        default:
            throw TokenError(.malformed, "\(name) must be an array of strings")
        }
    }

    /// RFC 7519 §2 NumericDate: seconds since the epoch, an integer or not.
    private func date(_ name: String) throws(TokenError) -> Date? {
        switch self.claims[name] {
        case nil, .null: return nil
        case .integer(let seconds): return Date(timeIntervalSince1970: TimeInterval(seconds))
        case .number(let seconds) where seconds.isFinite: return Date(timeIntervalSince1970: seconds)
        default: throw TokenError(.malformed, "\(name) must be a NumericDate (seconds since 1970)")
        }
    }

    private func object(_ name: String) throws(TokenError) -> [String: JSONValue]? {
        switch self.claims[name] {
        case nil, .null: return nil
        case .object(let value): return value
        default: throw TokenError(.malformed, "\(name) must be a JSON object")
        }
    }

    private static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}
