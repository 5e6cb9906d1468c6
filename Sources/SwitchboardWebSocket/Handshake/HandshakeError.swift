/// Why a client refuses a server's handshake response (RFC 6455 §4.1: "the client MUST _Fail the
/// WebSocket Connection_").
///
/// The fault is the server's (or an intermediary's). Compare ``kind`` to decide what to do;
/// ``message`` says what was wrong, e.g. "server answered 403 Forbidden".
public struct HandshakeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The category of the failure, open to new cases.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: Sendable, Hashable {
            case malformedResponse
            case unexpectedStatus
            case missingUpgrade
            case missingConnectionUpgrade
            case acceptMismatch
            case unexpectedSubprotocol
            case unexpectedExtension
            case invalidDeflateParameters
        }

        private let code: Code

        /// The response head could not be parsed.
        public static let malformedResponse = Kind(code: .malformedResponse)
        /// The status is not 101 Switching Protocols (e.g. a redirect, 401 or 403).
        public static let unexpectedStatus = Kind(code: .unexpectedStatus)
        /// `Upgrade` is missing or is not `websocket`.
        public static let missingUpgrade = Kind(code: .missingUpgrade)
        /// `Connection` is missing or lacks `Upgrade`.
        public static let missingConnectionUpgrade = Kind(code: .missingConnectionUpgrade)
        /// `Sec-WebSocket-Accept` is missing, repeated, or not the value derived from our key.
        public static let acceptMismatch = Kind(code: .acceptMismatch)
        /// The server chose a subprotocol the client did not offer, or sent several.
        public static let unexpectedSubprotocol = Kind(code: .unexpectedSubprotocol)
        /// The server accepted an extension the client did not offer, or the list is malformed.
        public static let unexpectedExtension = Kind(code: .unexpectedExtension)
        /// The permessage-deflate response parameters break RFC 7692 §7.1.
        public static let invalidDeflateParameters = Kind(code: .invalidDeflateParameters)

        public var description: String { "\(code)" }
    }

    /// The category, for deciding what to do (e.g. follow up on ``Kind/unexpectedStatus``).
    public let kind: Kind
    /// What was wrong with the response, as a phrase.
    public let message: String

    init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The error for a response head that ``HTTPHeadParser`` could not parse.
    public init(malformedResponse rejection: HandshakeRejection) {
        self.init(.malformedResponse, "malformed response head: \(rejection.reason)")
    }

    public var description: String { "WebSocket handshake failed: \(message)" }
}
