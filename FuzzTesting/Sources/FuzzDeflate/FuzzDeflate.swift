import NIOCore
@testable import SwitchboardWebSocket

// Drives the permessage-deflate codec (RFC 7692 §7.2) with arbitrary bytes and checks:
// - `MessageDecompressor` never traps on any payload, fed in chunks, over several messages; the inflated
//   message never exceeds the limit by more than the documented metering overshoot, and the buffer it
//   grows stays within the power of two that holds the limit; a failure is one of the documented kinds;
// - compress → decompress gives back the input, for two messages in a row (so context takeover is
//   exercised), with the decompressor's limit set to the exact size of each message, payloads fed in
//   chunks.
//
// Input layout: byte 0 picks the window, context takeover, level and limit; byte 1 the chunk size and
// where the input is cut into messages; the rest is the payload.

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("Invariant broken: \(message())") }
}

/// MessageDecompressor's documented bound on how far past `limit` inflation may run before it fails:
/// its metering slack, one metered byte and the 8 bytes zlib may hold (1032 bytes each), and a match
/// zlib had started (258).
let overshoot = 32 * 1024 + 9 * 1032 + 258

func nextPowerOfTwo(_ value: Int) -> Int {
    var power = 1
    while power < value { power <<= 1 }
    return power
}

/// Inflates `payload` as one message, fed in pieces of `chunk` bytes.
func inflate(_ payload: ArraySlice<UInt8>, with decompressor: inout MessageDecompressor, limit: Int,
             chunk: Int) -> Result<[UInt8], DeflateFailure> {
    var message = ByteBuffer()
    var offset = payload.startIndex
    do throws(DeflateFailure) {
        while offset < payload.endIndex {
            let end = min(payload.endIndex, offset + chunk)
            var piece = ByteBuffer(bytes: payload[offset..<end])
            offset = end
            try decompressor.decompress(&piece, into: &message, limit: limit)
            check(piece.readableBytes == 0, "decompress left \(piece.readableBytes) compressed bytes unread")
            checkBounds(message, limit: limit)
        }
        try decompressor.finishMessage(into: &message, limit: limit)
        checkBounds(message, limit: limit)
        check(message.readableBytes <= limit, "finished message of \(message.readableBytes) bytes over the limit \(limit)")
        return .success(Array(message.readableBytesView))
    } catch {
        checkBounds(message, limit: limit)
        check(error == .messageTooLarge || error == .corruptData, "unexpected failure \(error)")
        return .failure(error)
    }
}

func checkBounds(_ message: ByteBuffer, limit: Int) {
    check(message.readableBytes <= limit + overshoot,
          "inflated \(message.readableBytes) bytes for a limit of \(limit)")
    check(message.capacity <= max(nextPowerOfTwo(limit), 4096),
          "message buffer grew to \(message.capacity) bytes for a limit of \(limit)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count >= 2 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let windowBits = 8 + Int(bytes[0] & 0b111)
    let noContextTakeover = bytes[0] & 0b1000 != 0
    let level = Int((bytes[0] >> 4) & 0b11) * 3  // 0, 3, 6, 9
    let limits = [1, 100, 1000, 1 << 16]
    let limit = limits[Int(bytes[0] >> 6)]
    let chunk = 1 + Int(bytes[1] & 0x1F) * 8
    let payload = bytes[2...]
    let cut = payload.startIndex + payload.count * Int(bytes[1] >> 5) / 8

    // Arbitrary payloads: two messages on one stream, or until the first failure (after which the
    // decompressor is not used again, as documented).
    var decompressor = MessageDecompressor(noContextTakeover: noContextTakeover, windowBits: windowBits)
    if case .success = inflate(payload[..<cut], with: &decompressor, limit: limit, chunk: chunk) {
        _ = inflate(payload[cut...], with: &decompressor, limit: limit, chunk: chunk)
    }

    // Round trip: each message comes back whole with the limit at its exact size.
    var compressor = MessageCompressor(noContextTakeover: noContextTakeover, windowBits: windowBits,
                                       level: level, memoryLevel: 1 + Int(bytes[1] & 0b111))
    var receiver = MessageDecompressor(noContextTakeover: noContextTakeover, windowBits: windowBits)
    for message in [payload[..<cut], payload[cut...], payload[..<cut]] {
        var compressed = ByteBuffer()
        do {
            try compressor.compress(ByteBuffer(bytes: message), into: &compressed)
        } catch {
            fatalError("Invariant broken: compressing \(message.count) bytes failed: \(error)")
        }
        switch inflate(compressed.readableBytesView[...].map { $0 }[...], with: &receiver,
                       limit: message.count, chunk: chunk) {
        case .success(let inflated):
            check(inflated == Array(message), "round trip changed a message of \(message.count) bytes")
        case .failure(let error):
            fatalError("Invariant broken: our own compressed message of \(message.count) bytes fails with \(error)")
        }
    }
    return 0
}
