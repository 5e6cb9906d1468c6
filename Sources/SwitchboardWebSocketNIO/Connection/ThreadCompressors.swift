import NIOPosix
import SwitchboardWebSocket

/// One `SharedFrameCompressor` per thread, so per event loop, for each zlib setting in use: a server
/// connection that compresses (permessage-deflate without context takeover) holds no zlib stream of its
/// own, and a broadcast is compressed once by the first loop that needs it.
enum ThreadCompressors {
    /// Only ever touched by its own thread.
    private final class Compressors: @unchecked Sendable {
        var bySetting: [Int: SharedFrameCompressor] = [:]
    }

    private static let perThread = ThreadSpecificVariable<Compressors>()

    /// Runs `body` with this thread's compressor for `configuration`'s level and memory level.
    static func with<Value>(_ configuration: PerMessageDeflateConfiguration,
                             _ body: (inout SharedFrameCompressor) throws(WebSocketError) -> Value) throws(WebSocketError) -> Value {
        let compressors: Compressors
        if let existing = Self.perThread.currentValue {
            compressors = existing
        } else {
            compressors = Compressors()
            Self.perThread.currentValue = compressors
        }
        let key = (configuration.compressionLevel + 1) << 4 | configuration.memoryLevel
        var compressor = compressors.bySetting.removeValue(forKey: key)
            ?? SharedFrameCompressor(level: configuration.compressionLevel, memoryLevel: configuration.memoryLevel)
        defer { compressors.bySetting[key] = compressor }
        return try body(&compressor)
    }
}
