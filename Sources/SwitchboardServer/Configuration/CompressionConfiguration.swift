import SwitchboardWebSocket

/// permessage-deflate (RFC 7692) for the WebSocket clients that offer it (every browser does); off by
/// default.
///
/// Every message goes out compressed on its own: the node answers with `server_no_context_takeover`, so a
/// publication is compressed once per event loop and the same frame goes to every recipient that agreed,
/// as the plain frame does to the others; and with `client_no_context_takeover`, so a client's messages are
/// each decompressed alone. A connection keeps no zlib stream of its own: its loop's compressor makes its
/// frames, and a stream to read a compressed message lives only while that message is read.
public struct CompressionConfiguration: Sendable, Hashable {
    /// Whether the node accepts permessage-deflate offers.
    public var enabled: Bool
    /// Messages shorter than this many bytes go out uncompressed (deflate barely shrinks them).
    public var threshold: Int
    /// zlib level, 1 (fastest) to 9 (smallest).
    public var level: Int

    public init(enabled: Bool = false, threshold: Int = 256, level: Int = 6) {
        self.enabled = enabled
        self.threshold = threshold
        self.level = level
    }

    /// What the WebSocket transport negotiates and compresses with; nil when compression is off.
    var transportConfiguration: PerMessageDeflateConfiguration? {
        guard self.enabled else { return nil }
        return PerMessageDeflateConfiguration(requestServerNoContextTakeover: true, requestClientNoContextTakeover: true,
                                              compressionThreshold: self.threshold, compressionLevel: self.level,
                                              memoryLevel: 8, keepsStreamsBetweenMessages: false)
    }
}

extension CompressionConfiguration: Codable {
    private enum Key: String, CodingKey {
        case enabled, threshold, level
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let defaults = CompressionConfiguration()
        self.enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled) ?? defaults.enabled
        self.threshold = try container.decodeIfPresent(Int.self, forKey: .threshold) ?? defaults.threshold
        self.level = try container.decodeIfPresent(Int.self, forKey: .level) ?? defaults.level
        guard self.threshold >= 0 else {
            throw DecodingError.dataCorruptedError(forKey: .threshold, in: container, debugDescription: "threshold must be 0 or more bytes")
        }
        guard (1...9).contains(self.level) else {
            throw DecodingError.dataCorruptedError(forKey: .level, in: container, debugDescription: "level must be 1 (fastest) to 9 (smallest)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(self.enabled, forKey: .enabled)
        try container.encode(self.threshold, forKey: .threshold)
        try container.encode(self.level, forKey: .level)
    }
}
