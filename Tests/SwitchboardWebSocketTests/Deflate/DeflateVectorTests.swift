import NIOCore
import Testing
@testable import SwitchboardWebSocket

/// The examples of RFC 7692 §7.2.3, each decoded whole, byte by byte and in random splits.
@Suite struct DeflateVectorTests {
    private typealias T = DeflateTesting

    /// RFC 7692 §7.2.3.1: "Hello" in one compressed DEFLATE block (BTYPE 01, fixed Huffman codes).
    static let helloCompressed: [UInt8] = [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
    /// RFC 7692 §7.2.3.2: the second "Hello" of a connection that keeps the sliding window: one match
    /// of length 5, distance 5.
    static let helloSharingWindow: [UInt8] = [0xF2, 0x00, 0x11, 0x00, 0x00]
    /// RFC 7692 §7.2.3.3: "Hello" in a stored block (BTYPE 00), then one octet beginning an empty block.
    static let helloStored: [UInt8] = [0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00]
    /// RFC 7692 §7.2.3.4: "Hello" in a block with BFINAL set, then the header octet of an empty stored block.
    static let helloFinalBlock: [UInt8] = [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00]
    /// RFC 7692 §7.2.3.5: "He" and "llo" in two DEFLATE blocks of one message.
    static let helloTwoBlocks: [UInt8] = [0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00]

    @Test func compressingHelloGivesTheRFCBlock() throws {
        var compressor = MessageCompressor(noContextTakeover: false, windowBits: 15, level: 6, memoryLevel: 8)
        #expect(try T.compress(T.hello, with: &compressor) == Self.helloCompressed)
    }

    @Test(arguments: [helloCompressed, helloStored, helloFinalBlock, helloTwoBlocks])
    func singleMessageVectorsDecodeToHello(payload: [UInt8]) throws {
        for frames in T.feedings(of: payload, seed: 7692) {
            var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
            #expect(try T.decompress(frames, with: &decompressor) == T.hello)
            // Whatever the stream's state after the vector (after BFINAL it has ended), the next message decodes.
            #expect(try T.decompress([Self.helloCompressed], with: &decompressor) == T.hello)
        }
    }

    /// RFC 7692 §7.2.3.1, fragmented: `f2 48 cd` and `c9 c9 07 00` as two frames of one message.
    @Test func fragmentedHelloDecodes() throws {
        var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
        #expect(try T.decompress([[0xF2, 0x48, 0xCD], [0xC9, 0xC9, 0x07, 0x00]], with: &decompressor) == T.hello)
    }

    /// RFC 7692 §7.2.3.2: zlib produces exactly the RFC's bytes for the second message.
    @Test func secondHelloSharesTheWindowWhenCompressing() throws {
        var compressor = MessageCompressor(noContextTakeover: false, windowBits: 15, level: 6, memoryLevel: 8)
        #expect(try T.compress(T.hello, with: &compressor) == Self.helloCompressed)
        #expect(try T.compress(T.hello, with: &compressor) == Self.helloSharingWindow)
    }

    @Test func secondHelloSharesTheWindowWhenDecompressing() throws {
        for frames in T.feedings(of: Self.helloSharingWindow, seed: 2) {
            var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
            #expect(try T.decompress([Self.helloCompressed], with: &decompressor) == T.hello)
            #expect(try T.decompress(frames, with: &decompressor) == T.hello)
        }
    }

    /// Without context takeover the window is reset, so the RFC's back-reference has nothing to point at.
    @Test func sharedWindowVectorFailsWithoutContextTakeover() throws {
        var decompressor = MessageDecompressor(noContextTakeover: true, windowBits: 15)
        #expect(try T.decompress([Self.helloCompressed], with: &decompressor) == T.hello)
        #expect(throws: DeflateFailure.corruptData) {
            try T.decompress([Self.helloSharingWindow], with: &decompressor)
        }
    }

    /// A final block that ends the payload exactly (no trailing octet, unlike §7.2.3.4): the tail has
    /// nothing to terminate and must not be fed to a new stream.
    @Test func finalBlockWithoutTrailingOctetDecodes() throws {
        for frames in T.feedings(of: [0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], seed: 3) {
            var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
            #expect(try T.decompress(frames, with: &decompressor) == T.hello)
            #expect(try T.decompress([Self.helloCompressed], with: &decompressor) == T.hello)
        }
    }

    /// A final stored block completed by the tail itself (`01` + `00 00 ff ff`): zlib ends the stream
    /// having consumed everything; the next message must still decode.
    @Test func finalBlockCompletedByTheTailDecodes() throws {
        var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
        #expect(try T.decompress([[0x01]], with: &decompressor) == [])
        #expect(try T.decompress([Self.helloCompressed], with: &decompressor) == T.hello)
        #expect(try T.decompress([Self.helloStored], with: &decompressor) == T.hello)
    }

    /// RFC 7692 §7.2.3.6: the empty message is the single octet 0x00 (an empty stored block, tail removed).
    @Test(arguments: [false, true])
    func emptyMessageIsOneZeroOctet(noContextTakeover: Bool) throws {
        var compressor = MessageCompressor(noContextTakeover: noContextTakeover, windowBits: 15, level: 6, memoryLevel: 8)
        var decompressor = MessageDecompressor(noContextTakeover: noContextTakeover, windowBits: 15)
        // First on a fresh stream, then after a message (where zlib itself would produce nothing).
        for message in [[], T.hello, [], [], T.hello, []] as [[UInt8]] {
            let payload = try T.compress(message, with: &compressor)
            if message.isEmpty {
                #expect(payload == [0x00])
            }
            #expect(try T.decompress([payload], with: &decompressor) == message)
        }
    }

    /// A compressed message whose frames carry no payload at all is taken as the empty message, and
    /// leaves the stream usable.
    @Test func messageWithoutPayloadIsEmpty() throws {
        var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
        #expect(try T.decompress([], with: &decompressor) == [])
        #expect(try T.decompress([[], []], with: &decompressor) == [])
        #expect(!decompressor.hasAllocatedStream)
        #expect(try T.decompress([Self.helloCompressed], with: &decompressor) == T.hello)
        #expect(try T.decompress([], with: &decompressor) == [])
        #expect(try T.decompress([Self.helloSharingWindow], with: &decompressor) == T.hello)
    }

    /// An undefined block type (BTYPE 11), and a stored block whose LEN and NLEN disagree.
    @Test(arguments: [[0xFF, 0xFF, 0xFF], [0x07], [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x12, 0x34]] as [[UInt8]])
    func corruptDataIsRejected(payload: [UInt8]) throws {
        for frames in T.feedings(of: payload, seed: 4) {
            var decompressor = MessageDecompressor(noContextTakeover: false, windowBits: 15)
            #expect(throws: DeflateFailure.corruptData) {
                try T.decompress(frames, with: &decompressor)
            }
        }
    }
}
