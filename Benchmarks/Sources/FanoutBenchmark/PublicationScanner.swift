import NIOCore

/// What the benchmark needs from one publication push.
struct ScannedPublication {
    var offset: UInt64
    /// ``PublicationScanner/hash(_:)`` of the epoch: compared per message without making a `String`.
    var epochHash: UInt64
    /// The rate step that published it (`s` in the data).
    var step: Int
    /// When the publisher meant to send it (`t` in the data), monotonic nanoseconds.
    var sentNanoseconds: UInt64
}

/// Reads publication pushes straight from their bytes.
///
/// One client core receives up to millions of pushes a second, so a `JSONDecoder` per message would make
/// the client the bottleneck. The server encodes with sorted keys, so a push reads
/// `{"channel":…,"data":{"p":"xx…","s":S,"t":T},"epoch":"E","offset":N,"type":"publication"}` and the
/// fields are found in that order. Anything else (replies, errors, other pushes) returns nil and is decoded
/// properly by the caller.
enum PublicationScanner {
    private static let typeSuffix = Array(#""type":"publication"}"#.utf8)
    private static let dataKey = Array(#""data":{"#.utf8)
    private static let stepKey = Array(#""s":"#.utf8)
    private static let timeKey = Array(#""t":"#.utf8)
    private static let epochKey = Array(#""epoch":""#.utf8)
    private static let offsetKey = Array(#""offset":"#.utf8)

    static func scan(_ buffer: ByteBuffer) -> ScannedPublication? {
        buffer.withUnsafeReadableBytes { bytes -> ScannedPublication? in
            guard Self.hasSuffix(bytes, Self.typeSuffix),
                  let data = Self.find(Self.dataKey, in: bytes, from: 0),
                  let step = Self.integer(after: Self.stepKey, in: bytes, from: data),
                  let time = Self.integer(after: Self.timeKey, in: bytes, from: step.end),
                  let epochStart = Self.find(Self.epochKey, in: bytes, from: time.end).map({ $0 + Self.epochKey.count }),
                  let epochEnd = Self.index(of: UInt8(ascii: "\""), in: bytes, from: epochStart),
                  let offset = Self.integer(after: Self.offsetKey, in: bytes, from: epochEnd),
                  step.value < UInt64(Int.max)
            else { return nil }
            let epoch = UnsafeRawBufferPointer(rebasing: bytes[epochStart..<epochEnd])
            return ScannedPublication(offset: offset.value, epochHash: Self.hash(epoch), step: Int(step.value),
                                      sentNanoseconds: time.value)
        }
    }

    /// The `"offset":N` of a publish response (`{"epoch":"…","offset":N}`).
    static func offset(inPublishResponse buffer: ByteBuffer) -> UInt64? {
        buffer.withUnsafeReadableBytes { bytes in
            Self.integer(after: Self.offsetKey, in: bytes, from: 0)?.value
        }
    }

    /// FNV-1a: a cheap fingerprint of an epoch, enough to notice that it changed.
    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    static func hash(_ string: String) -> UInt64 {
        var string = string
        return string.withUTF8 { Self.hash(UnsafeRawBufferPointer($0)) }
    }

    // MARK: - Byte search

    /// The unsigned decimal right after `key` (searched from `start`), and the index past its last digit.
    private static func integer(after key: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> (value: UInt64, end: Int)? {
        guard var index = Self.find(key, in: bytes, from: start).map({ $0 + key.count }) else { return nil }
        let first = index
        var value: UInt64 = 0
        while index < bytes.count {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { break }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = added
            index += 1
        }
        return index > first ? (value, index) : nil
    }

    private static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: [UInt8]) -> Bool {
        guard bytes.count >= suffix.count else { return false }
        let start = bytes.count - suffix.count
        for index in suffix.indices where bytes[start + index] != suffix[index] { return false }
        return true
    }

    private static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// The first index of `pattern` at or after `start`. Pushes are ~200 bytes: a plain scan is enough.
    private static func find(_ pattern: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        let count = pattern.count
        guard count > 0, bytes.count >= count else { return nil }
        let first = pattern[0]
        var index = start
        let last = bytes.count - count
        outer: while index <= last {
            guard bytes[index] == first else {
                index += 1
                continue
            }
            for offset in 1..<count where bytes[index + offset] != pattern[offset] {
                index += 1
                continue outer
            }
            return index
        }
        return nil
    }
}
