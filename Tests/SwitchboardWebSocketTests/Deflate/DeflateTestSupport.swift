import SwitchboardTestSupport
import NIOCore
@testable import SwitchboardWebSocket

/// Helpers shared by the permessage-deflate suites.
enum DeflateTesting {
    static let hello: [UInt8] = Array("Hello".utf8)
    static let generousLimit = 64 * 1024 * 1024

    /// Text-like bytes: words from a small vocabulary, some random bytes, and repeats at all distances,
    /// so DEFLATE finds matches near and far (and across messages with context takeover).
    static func payload(count: Int, using generator: inout SeededGenerator) -> [UInt8] {
        let words = ["switchboard", "channel", "publish", "offset", "epoch", "presence", "{\"type\":",
                     "\"data\":", "subscribe", "42", "true", "null", " ", ", ", "\n"].map { Array($0.utf8) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0:
                bytes.append(UInt8.random(in: 0...255, using: &generator))
            case 1 where bytes.count > 16:
                let distance = Int.random(in: 1...min(bytes.count, 40_000), using: &generator)
                let length = Int.random(in: 3...300, using: &generator)
                let start = bytes.count - distance
                for index in 0..<length { bytes.append(bytes[start + index % distance]) }
            default:
                bytes.append(contentsOf: words[Int.random(in: 0..<words.count, using: &generator)])
            }
        }
        return Array(bytes.prefix(count))
    }

    /// Cuts `bytes` into pieces at random points (some empty), as frames might arrive.
    static func randomSplits(_ bytes: [UInt8], using generator: inout SeededGenerator) -> [[UInt8]] {
        Chunking.randomSplits(bytes, maximumLength: bytes.count / 3, allowingEmpty: true, using: &generator)
    }

    static func compress(_ message: [UInt8], with compressor: inout MessageCompressor) throws(DeflateFailure) -> [UInt8] {
        var output = ByteBuffer()
        try compressor.compress(ByteBuffer(bytes: message), into: &output)
        return Array(output.readableBytesView)
    }

    /// Decompresses one message delivered as `frames` (each one `decompress` call), then finishes it.
    static func decompress(_ frames: [[UInt8]], with decompressor: inout MessageDecompressor,
                           limit: Int = generousLimit) throws(DeflateFailure) -> [UInt8] {
        var output = ByteBuffer()
        for frame in frames {
            var buffer = ByteBuffer(bytes: frame)
            try decompressor.decompress(&buffer, into: &output, limit: limit)
            precondition(buffer.readableBytes == 0, "decompress must consume its whole input")
        }
        try decompressor.finishMessage(into: &output, limit: limit)
        return Array(output.readableBytesView)
    }

    /// The three ways DESIGN.md asks every parser vector to be fed: whole, byte by byte, random splits.
    static func feedings(of payload: [UInt8], seed: UInt64) -> [[[UInt8]]] {
        Chunking.feedings(of: payload, seeds: seed...seed, maximumLength: payload.count / 3, allowingEmpty: true)
    }
}
