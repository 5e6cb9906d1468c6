import SwitchboardProtocol

extension ChannelPermissions.Decision {
    /// The error reply for a refusal; nil when allowed.
    var refusal: ServerMessage.ProtocolError? {
        switch self {
        case .allow: nil
        case .deny(let code, let message): ServerMessage.ProtocolError(code: code, message: message)
        }
    }
}
