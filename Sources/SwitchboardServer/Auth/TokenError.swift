import SwitchboardProtocol

/// Why a token was refused.
///
/// A struct wrapping a private code (STYLE rule 7), so kinds can be added without breaking callers that switch
/// over them. The fault is always the client's (or its token issuer's); ``message`` says what is wrong in words
/// that are safe to send back to the client: it names claims and algorithms, never key material.
public struct TokenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of problem the token has. Compare with the static members: `error.kind == .expired`.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: String, Sendable, Hashable {
            case missing, malformed, badSignature, expired, notYetValid, wrongAudience, wrongIssuer, missingClaim
        }

        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// No token was given where one is required.
        public static let missing = Kind(.missing)
        /// Not a compact JWS, not base64url, not JSON, a claim of the wrong type, or an unsupported header.
        public static let malformed = Kind(.malformed)
        /// The signature does not verify with any configured key of the token's algorithm, no key is
        /// configured for that algorithm, or the token is unsigned (`alg: none`).
        public static let badSignature = Kind(.badSignature)
        /// `exp` has passed.
        public static let expired = Kind(.expired)
        /// `nbf` (or `iat`) is in the future.
        public static let notYetValid = Kind(.notYetValid)
        /// An audience is configured and the token's `aud` does not contain it.
        public static let wrongAudience = Kind(.wrongAudience)
        /// An issuer is configured and the token's `iss` is not it.
        public static let wrongIssuer = Kind(.wrongIssuer)
        /// A required claim (`sub`, `exp`) is absent or empty.
        public static let missingClaim = Kind(.missingClaim)

        public var description: String { self.code.rawValue }
    }

    public let kind: Kind
    /// What is wrong, for people: logs and the `message` of the error reply.
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The error reply code: an expired token can be refreshed (`refresh`), every other problem needs a
    /// different token.
    public var errorCode: ErrorCode {
        self.kind == .expired ? .tokenExpired : .unauthorized
    }

    /// The close code when the token ends the connection: 4003 asks the client to reconnect with a fresh token;
    /// 4500 says reconnecting with the same token is pointless (the 4500–4999 range: do not reconnect).
    public var disconnectCode: DisconnectCode {
        self.kind == .expired ? .tokenExpired : .unauthorized
    }

    public var description: String { "\(self.kind): \(self.message)" }
}
