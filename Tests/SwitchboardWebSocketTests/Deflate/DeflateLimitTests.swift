import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardWebSocket

/// The decompressed-size limit: exact at the boundary, and a decompression bomb is stopped after about
/// `limit` bytes of work and memory, however it is fed and whatever room the caller's buffer has.
@Suite struct DeflateLimitTests {
    private typealias T = DeflateTesting

    /// How far past the limit inflation may run, when the caller's buffer has more room than the limit,
    /// before it is noticed: the metering bound of `MessageDecompressor` (≈ 41.3 KiB), rounded up.
    static let overshootBound = 48 * 1024
    static let mebibyte = 1024 * 1024

    /// 10 MiB of zeros: about 10 KB compressed, a ratio near DEFLATE's maximum of 1032.
    static let bomb: [UInt8] = {
        var compressor = MessageCompressor(noContextTakeover: true, windowBits: 15, level: 9, memoryLevel: 9)
        var output = ByteBuffer()
        try! compressor.compress(ByteBuffer(repeating: 0, count: 10 * mebibyte), into: &output)
        return Array(output.readableBytesView)
    }()

    /// Feeds `frames` then finishes; returns the failure and how large the output had grown.
    private static func feed(_ frames: [[UInt8]], limit: Int, output: inout ByteBuffer) -> DeflateFailure? {
        var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
        do {
            for frame in frames {
                var buffer = ByteBuffer(bytes: frame)
                try decompressor.decompress(&buffer, into: &output, limit: limit)
            }
            try decompressor.finishMessage(into: &output, limit: limit)
            return nil
        } catch {
            return error
        }
    }

    @Test func bombIsSmall() {
        #expect(Self.bomb.count < 20_000)
    }

    @Test(arguments: [Int.max, 1024, 1])
    func bombIsStoppedNearTheLimit(frameSize: Int) {
        let frames = stride(from: 0, to: Self.bomb.count, by: min(frameSize, Self.bomb.count)).map {
            Array(Self.bomb[$0..<min($0 + frameSize, Self.bomb.count)])
        }
        var output = ByteBuffer()
        #expect(Self.feed(frames, limit: Self.mebibyte, output: &output) == .messageTooLarge)
        // Inflated up to the limit, then a one-byte probe showed the message goes on.
        #expect(output.readableBytes == Self.mebibyte)
        #expect(output.capacity <= Self.mebibyte, "never reserves past what the limit allows")
    }

    /// The caller's buffer already has far more room than the limit: zlib would fill all of it in one
    /// call, so the input must be metered; the overshoot stays within the metering bound.
    @Test func bombIsStoppedNearTheLimitInARoomyBuffer() {
        var output = ByteBuffer()
        output.reserveCapacity(16 * Self.mebibyte)
        #expect(Self.feed([Self.bomb], limit: Self.mebibyte, output: &output) == .messageTooLarge)
        #expect(output.readableBytes <= Self.mebibyte + Self.overshootBound)
    }

    @Test(arguments: [0, 1, 100, 4095, 4096, 4097, 65_536, 100_000])
    func messageExactlyAtTheLimitPasses(size: Int) throws {
        var generator = SeededGenerator(seed: UInt64(size))
        let message = T.payload(count: size, using: &generator)
        var compressor = MessageCompressor(noContextTakeover: false, windowBits: 15, level: 6, memoryLevel: 8)
        let payload = try T.compress(message, with: &compressor)
        for frames in T.feedings(of: payload, seed: UInt64(size)) {
            var atLimit = ByteBuffer()
            #expect(Self.feed(frames, limit: size, output: &atLimit) == nil)
            #expect(Array(atLimit.readableBytesView) == message)
            if size > 0 {
                var belowLimit = ByteBuffer()
                #expect(Self.feed(frames, limit: size - 1, output: &belowLimit) == .messageTooLarge)
                #expect(belowLimit.readableBytes <= size)
            }
        }
    }

    /// Metered inflation (the buffer has far more room than the limit) still delivers a message that
    /// fits exactly, and still rejects one byte more.
    @Test(arguments: [1, 5000, 100_000, 300_001])
    func exactFitInARoomyBuffer(size: Int) throws {
        var generator = SeededGenerator(seed: UInt64(size) &* 3)
        let message = T.payload(count: size, using: &generator)
        var compressor = MessageCompressor(noContextTakeover: false, windowBits: 15, level: 6, memoryLevel: 8)
        let payload = try T.compress(message, with: &compressor)
        var atLimit = ByteBuffer()
        atLimit.reserveCapacity(4 * Self.mebibyte)
        #expect(Self.feed([payload], limit: size, output: &atLimit) == nil)
        #expect(Array(atLimit.readableBytesView) == message)
        var belowLimit = ByteBuffer()
        belowLimit.reserveCapacity(4 * Self.mebibyte)
        #expect(Self.feed([payload], limit: size - 1, output: &belowLimit) == .messageTooLarge)
    }

    /// The limit also holds for bytes that only the RFC 7692 §7.2.2 tail produces: here a stored block
    /// of 8 bytes whose payload carries 4, so the tail's `00 00 ff ff` are its last 4 bytes of data.
    @Test func limitAppliesToTheTail() throws {
        let payload: [UInt8] = [0x00, 0x08, 0x00, 0xF7, 0xFF] + T.hello.prefix(4)
        var tooSmall = ByteBuffer()
        #expect(Self.feed([payload], limit: 7, output: &tooSmall) == .messageTooLarge)
        #expect(tooSmall.readableBytes == 8)

        var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
        #expect(try T.decompress([payload], with: &decompressor, limit: 8) == T.hello.prefix(4) + [0x00, 0x00, 0xFF, 0xFF])
        #expect(try T.decompress([DeflateVectorTests.helloCompressed], with: &decompressor) == T.hello)
    }
}
