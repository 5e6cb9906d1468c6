import SwitchboardProtocol

/// Who may subscribe to a channel and publish in it from a client connection, from the namespace options in
/// ``ServerConfiguration/namespaces`` and the client's ``Credentials`` (nil for an anonymous client).
///
/// Pure logic: no I/O, no clock. A refusal carries the error code for the reply:
/// - `badRequest` (100): not a valid channel name (see ``validate(channel:)``).
/// - `unknownChannel` (104): the namespace is not configured.
/// - `unauthorized` (102): the action needs a token and the client has none.
/// - `permissionDenied` (103): the client's token does not allow it.
/// - `notAvailable` (107): clients may not publish in this namespace at all.
/// - `notSubscribed` (106): the namespace lets subscribers publish and the client is not subscribed.
///
/// Names are compared as UTF-8 bytes, not as Swift strings (which equate canonically equivalent Unicode): a grant
/// for one spelling must not open another channel that a byte-keyed broker keeps separately.
public struct ChannelPermissions: Sendable {
    /// The answer for one channel and action.
    public enum Decision: Sendable, Hashable {
        case allow
        /// Refuse with this code; `message` is safe to send to the client.
        case deny(ErrorCode, message: String)
    }

    /// The longest channel name, in UTF-8 bytes.
    public static let maximumNameLength = 255

    private let configuration: ServerConfiguration

    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
    }

    /// Whether `channel` is a valid name: not empty, at most ``maximumNameLength`` bytes of UTF-8, and without
    /// whitespace, control or invisible formatting characters, which would let two channels look alike in logs,
    /// the dashboard and error messages. The HTTP API checks names with this too.
    public static func validate(channel: String) -> Decision {
        if channel.isEmpty {
            return .deny(.badRequest, message: "the channel name is empty")
        }
        if channel.utf8.count > Self.maximumNameLength {
            return .deny(.badRequest, message: "the channel name is longer than \(Self.maximumNameLength) bytes")
        }
        let invisible = channel.unicodeScalars.contains { scalar in
            scalar.properties.isWhitespace || [.control, .format].contains(scalar.properties.generalCategory)
        }
        if invisible {
            return .deny(.badRequest, message: "the channel name contains whitespace or control characters")
        }
        return .allow
    }

    /// Whether a client may subscribe to `channel`.
    ///
    /// In a personal namespace, `<namespace>:<user>` may be subscribed to by that user only, whatever the
    /// namespace's subscribe policy: the channel name itself is the grant.
    public func canSubscribe(to channel: String, credentials: Credentials?) -> Decision {
        let (namespace, options): (String, NamespaceOptions)
        switch self.lookUp(channel) {
        case .found(let name, let found): (namespace, options) = (name, found)
        case .refused(let refusal): return refusal
        }
        if options.personal {
            guard let credentials else {
                return .deny(.unauthorized, message: "\(channel) is a personal channel: connect with a token")
            }
            guard channel.utf8.elementsEqual("\(namespace):\(credentials.user)".utf8) else {
                return .deny(.permissionDenied, message: "\(channel) is another user's personal channel")
            }
            return .allow
        }
        switch options.subscribe {
        case .anyone:
            return .allow
        case .authenticated:
            return credentials == nil ? .deny(.unauthorized, message: "subscribing to \(channel) needs a token") : .allow
        case .token:
            guard let credentials else {
                return .deny(.unauthorized, message: "subscribing to \(channel) needs a token that grants it")
            }
            guard credentials.channels.contains(where: { Self.pattern($0, grants: channel) }) else {
                return .deny(.permissionDenied, message: "the token does not grant \(channel)")
            }
            return .allow
        }
    }

    /// Whether a client may publish in `channel` from its connection (the HTTP API may always publish).
    ///
    /// Publishing also requires being allowed to subscribe, checked again here, so a client whose refreshed
    /// token no longer grants a channel cannot keep publishing in it.
    ///
    /// - Parameters:
    ///   - channel: the channel to publish in.
    ///   - credentials: the client's verified token (nil: anonymous).
    ///   - isSubscribed: whether the client is subscribed to `channel` now.
    public func canPublish(to channel: String, credentials: Credentials?, isSubscribed: Bool) -> Decision {
        let options: NamespaceOptions
        switch self.lookUp(channel) {
        case .found(_, let found): options = found
        case .refused(let refusal): return refusal
        }
        let needsSubscription: Bool
        switch options.publish {
        case .nobody: return .deny(.notAvailable, message: "clients cannot publish in \(channel): only the HTTP API can")
        case .subscribers: needsSubscription = true
        case .authenticated: needsSubscription = false
        }
        let subscribe = self.canSubscribe(to: channel, credentials: credentials)
        guard subscribe == .allow else { return subscribe }
        if needsSubscription {
            return isSubscribed ? .allow : .deny(.notSubscribed, message: "subscribe to \(channel) before publishing in it")
        }
        return credentials == nil ? .deny(.unauthorized, message: "publishing in \(channel) needs a token") : .allow
    }

    /// The options of a valid channel's namespace, or the refusal (bad name, unconfigured namespace): what
    /// callers without a client (the HTTP API) check before touching a channel.
    func options(for channel: String) throws(ChannelRefusal) -> NamespaceOptions {
        switch self.lookUp(channel) {
        case .found(_, let options): return options
        case .refused(let refusal): throw ChannelRefusal(error: refusal.refusal ?? .init(code: .internalError, message: "refused"))
        }
    }

    /// Why a channel cannot be used, as the protocol's error.
    struct ChannelRefusal: Error {
        let error: ServerMessage.ProtocolError
    }

    private enum Lookup {
        case found(String, NamespaceOptions)
        case refused(Decision)
    }

    /// The channel's namespace, or the refusal for an invalid name or an unconfigured namespace.
    private func lookUp(_ channel: String) -> Lookup {
        let valid = Self.validate(channel: channel)
        guard valid == .allow else { return .refused(valid) }
        guard let namespace = self.configuration.namespace(of: channel) else {
            let message = channel.contains(":") ? "the namespace of \(channel) is not configured" : "channels without a namespace are not configured"
            return .refused(.deny(.unknownChannel, message: message))
        }
        return .found(namespace.name, namespace.options)
    }

    /// A `channels` entry grants the channel it names, or with a trailing `*` every channel starting with what
    /// precedes it (`chat:*`). A `*` elsewhere is an ordinary character.
    private static func pattern(_ pattern: String, grants channel: String) -> Bool {
        if pattern.hasSuffix("*") {
            return channel.utf8.starts(with: pattern.utf8.dropLast())
        }
        return channel.utf8.elementsEqual(pattern.utf8)
    }
}
