/// The permessage-deflate agreement of one connection (RFC 7692 §7.1), as both ends apply it.
///
/// "server" parameters govern what the server compresses (and the client decompresses); "client"
/// parameters the reverse. A window of 2^bits bytes, 8...15.
public struct PerMessageDeflateParameters: Sendable, Hashable {
    public var serverNoContextTakeover: Bool
    public var clientNoContextTakeover: Bool
    public var serverMaxWindowBits: Int
    public var clientMaxWindowBits: Int

    public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }
}

/// What an endpoint is willing to negotiate for permessage-deflate, and how it compresses.
public struct PerMessageDeflateConfiguration: Sendable, Hashable {
    /// Ask the peer to reset its compression context after each message (saves the peer's memory,
    /// costs ratio). A server always honours a client's request for either direction.
    public var requestServerNoContextTakeover: Bool
    public var requestClientNoContextTakeover: Bool
    /// The largest window this endpoint uses or accepts for each direction (8...15).
    public var serverMaxWindowBits: Int
    public var clientMaxWindowBits: Int
    /// Messages smaller than this are sent uncompressed (RFC 7692 allows per-message choice): deflate
    /// rarely shrinks tiny payloads and costs CPU.
    public var compressionThreshold: Int
    /// zlib level 1...9 (1 is fastest).
    public var compressionLevel: Int
    /// zlib memLevel 1...9: memory for the compressor's hash tables (2^(memLevel+9) bytes).
    public var memoryLevel: Int
    /// Whether a direction without context takeover keeps its zlib stream between messages (true: no set-up
    /// per message) or frees it after each one (false: an idle connection holds no zlib memory, what a
    /// server with many connections wants; a stream then costs a set-up per compressed message).
    public var keepsStreamsBetweenMessages: Bool

    public init(requestServerNoContextTakeover: Bool = false, requestClientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15,
                compressionThreshold: Int = 128, compressionLevel: Int = 6, memoryLevel: Int = 8,
                keepsStreamsBetweenMessages: Bool = true) {
        self.requestServerNoContextTakeover = requestServerNoContextTakeover
        self.requestClientNoContextTakeover = requestClientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
        self.compressionThreshold = compressionThreshold
        self.compressionLevel = compressionLevel
        self.memoryLevel = memoryLevel
        self.keepsStreamsBetweenMessages = keepsStreamsBetweenMessages
    }
}
