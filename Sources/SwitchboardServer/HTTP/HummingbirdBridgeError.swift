/// Why the ``HummingbirdBridge`` could not serve a connection. The connection is closed either way.
public struct HummingbirdBridgeError: Error, Sendable, Hashable, CustomStringConvertible {
    enum Code: Sendable, Hashable {
        case pipelineSetupFailed
        case requestMalformedWhileResponding
    }

    let code: Code
    /// A sentence naming the problem.
    public let message: String

    private init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// Ours: Hummingbird's HTTP/1.1 handlers could not be installed on the channel.
    static func pipelineSetupFailed(_ why: String) -> Self {
        Self(.pipelineSetupFailed, "could not install the HTTP/1.1 handlers: \(why)")
    }

    /// The peer's: the request's body turned out malformed after the response had started. Not the NIO
    /// parser error itself, which would make Hummingbird write a second response (a 400) after this one.
    static let requestMalformedWhileResponding = Self(
        .requestMalformedWhileResponding, "the request was malformed; the response was already under way")

    public var description: String { self.message }
}
