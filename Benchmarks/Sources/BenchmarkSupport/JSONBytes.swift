/// Byte searches for reading the server's pushes without decoding them.
///
/// A load generator's core receives up to millions of pushes a second, so a `JSONDecoder` per message would
/// make the client the bottleneck. The server encodes with sorted keys, so the fields of a push are found in
/// a known order; callers decode anything they do not recognise properly.
public enum JSONBytes {
    /// The unsigned decimal right after `key` (searched from `start`), and the index past its last digit.
    public static func integer(after key: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> (value: UInt64, end: Int)? {
        guard let first = Self.find(key, in: bytes, from: start).map({ $0 + key.count }) else { return nil }
        return Self.integer(at: first, in: bytes)
    }

    /// The unsigned decimal starting at `index`, and the index past its last digit.
    public static func integer(at start: Int, in bytes: UnsafeRawBufferPointer) -> (value: UInt64, end: Int)? {
        var index = start
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
        return index > start ? (value, index) : nil
    }

    /// The bytes of the string value right after `key` (which ends with the opening quote), without escapes
    /// resolved, and the index past its closing quote.
    public static func string(after key: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> (value: Range<Int>, end: Int)? {
        guard let first = Self.find(key, in: bytes, from: start).map({ $0 + key.count }),
              let last = Self.index(of: UInt8(ascii: "\""), in: bytes, from: first)
        else { return nil }
        return (first..<last, last + 1)
    }

    public static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ prefix: [UInt8], at start: Int = 0) -> Bool {
        guard bytes.count - start >= prefix.count else { return false }
        for index in prefix.indices where bytes[start + index] != prefix[index] { return false }
        return true
    }

    public static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: [UInt8]) -> Bool {
        bytes.count >= suffix.count && Self.hasPrefix(bytes, suffix, at: bytes.count - suffix.count)
    }

    public static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// The first index of `pattern` at or after `start`. Pushes are ~200 bytes: a plain scan is enough.
    public static func find(_ pattern: [UInt8], in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
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

    /// FNV-1a: a cheap fingerprint of an epoch, enough to notice that it changed.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    public static func hash(_ string: String) -> UInt64 {
        var string = string
        return string.withUTF8 { Self.hash(UnsafeRawBufferPointer($0)) }
    }
}
