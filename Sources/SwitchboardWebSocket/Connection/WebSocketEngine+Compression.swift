import NIOCore

// MARK: - permessage-deflate

extension WebSocketEngine {
    /// permessage-deflate's state (RFC 7692). A class, held by one engine only: the engine is moved, never
    /// copied and used twice (its zlib streams could not be shared either).
    final class Compression {
        let parameters: PerMessageDeflateParameters
        /// Messages shorter than this go out uncompressed.
        let threshold: Int
        /// Free a direction's zlib stream after each message when that direction takes no context over.
        let releasesIdleStreams: Bool
        var decompressor: MessageDecompressor?
        var compressor: MessageCompressor?
        /// Compressed bytes of the current frame, unmasked, on their way to the decompressor; or a message
        /// just compressed, on its way out.
        var chunk = ByteBuffer()

        init(parameters: PerMessageDeflateParameters, threshold: Int, releasesIdleStreams: Bool,
             decompressor: MessageDecompressor, compressor: MessageCompressor) {
            self.parameters = parameters
            self.threshold = threshold
            self.releasesIdleStreams = releasesIdleStreams
            self.decompressor = decompressor
            self.compressor = compressor
        }

        func decompress(into message: inout ByteBuffer, limit: Int) throws {
            try self.decompressor!.decompress(&self.chunk, into: &message, limit: limit)
        }

        func finishMessage(into message: inout ByteBuffer, limit: Int) throws {
            try self.decompressor!.finishMessage(into: &message, limit: limit)
            if self.releasesIdleStreams && self.decompressor!.noContextTakeover { self.decompressor!.releaseResources() }
        }

        func compress(_ payload: ByteBuffer) throws {
            try self.compressor!.compress(payload, into: &self.chunk)
            if self.releasesIdleStreams && self.compressor!.noContextTakeover { self.compressor!.releaseResources() }
        }
    }

    /// A client's masking key source (RFC 6455 §5.3), boxed.
    final class MaskingKeys {
        var source: any MaskingKeySource
        init(_ source: any MaskingKeySource) { self.source = source }
    }
}
