/// Limits of one connection.
public struct WebSocketLimits: Sendable, Hashable {
    /// The largest frame payload accepted; a larger frame fails the connection with 1009.
    public var maximumFrameSize: Int
    /// The largest message accepted, after decompression; a larger one fails the connection with 1009.
    public var maximumMessageSize: Int

    /// 1 MiB messages and frames: the default for applications.
    public static let applicationDefault = WebSocketLimits(maximumFrameSize: 1 << 20, maximumMessageSize: 1 << 20)
    /// 16 MiB messages and frames: what an echo or test server accepts.
    public static let echoServer = WebSocketLimits(maximumFrameSize: 16 << 20, maximumMessageSize: 16 << 20)

    public init(maximumFrameSize: Int, maximumMessageSize: Int) {
        precondition(maximumFrameSize > 0 && maximumMessageSize > 0, "limits must be positive")
        self.maximumFrameSize = maximumFrameSize
        self.maximumMessageSize = maximumMessageSize
    }
}
