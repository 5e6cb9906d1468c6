import SwitchboardProtocol

extension ServerMessage.ProtocolError {
    /// What a publish the broker failed tells its caller (client command or HTTP API): nothing was
    /// published (202), or the broker did not confirm and it may have been (203), never the one for the other.
    static func publishFailed(_ error: any Error) -> Self {
        if let error = error as? BrokerError, error.outcomeIsUnknown {
            return .init(code: .outcomeUnknown, message: "publish not confirmed, it may or may not have been published: \(error)")
        }
        return .init(code: .unavailable, message: "publish failed, nothing was published: \(error)")
    }
}
