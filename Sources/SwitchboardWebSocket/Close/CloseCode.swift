/// A close status code (RFC 6455 §7.4).
public struct CloseCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt16

    @inlinable
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    @inlinable
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = CloseCode(1000)
    public static let goingAway = CloseCode(1001)
    public static let protocolError = CloseCode(1002)
    public static let unsupportedData = CloseCode(1003)
    /// Reported locally when a close frame carried no code; never sent (RFC 6455 §7.4.1).
    public static let noStatusReceived = CloseCode(1005)
    /// Reported locally when the connection ended without a close frame; never sent.
    public static let abnormalClosure = CloseCode(1006)
    public static let invalidPayloadData = CloseCode(1007)
    public static let policyViolation = CloseCode(1008)
    public static let messageTooBig = CloseCode(1009)
    public static let mandatoryExtension = CloseCode(1010)
    public static let internalError = CloseCode(1011)
    public static let serviceRestart = CloseCode(1012)
    public static let tryAgainLater = CloseCode(1013)
    public static let badGateway = CloseCode(1014)

    /// Whether this code may appear in a close frame on the wire (RFC 6455 §7.4.1–7.4.2 and the IANA
    /// registry): 1000–1003, 1007–1014, and 3000–4999 for libraries, frameworks and applications.
    /// 1004–1006 and 1015 are reserved; everything else below 3000 is unassigned.
    @inlinable
    public var isSendable: Bool {
        switch self.rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(self.rawValue) }
}
