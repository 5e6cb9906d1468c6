import NIOCore

/// Skips one body in the chunked transfer coding (RFC 9112 §7.1) to find where it ends:
///
///     chunked-body = *chunk last-chunk trailer-section CRLF
///     chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
///     last-chunk   = 1*("0") [ chunk-ext ] CRLF
///
/// A bare LF is accepted where CRLF is due (RFC 9112 §2.2 lets a recipient do so). Size, extension and
/// trailer lines are bounded by `maximumLineSize`, so memory stays constant whatever is sent.
struct ChunkedBodyFraming {
    enum Outcome: Equatable {
        case needMoreBytes
        /// The body ended; bytes after it are still readable.
        case complete
        case malformed(String)
    }

    private enum State {
        /// In a chunk-size line: the size so far, whether a digit was seen, and whether the digits ended
        /// (an extension or whitespace follows).
        case sizeLine(size: UInt64, sawDigit: Bool, digitsEnded: Bool)
        case data(remaining: UInt64)
        /// The CRLF after chunk data; `sawCR` once the CR is in.
        case dataEnd(sawCR: Bool)
        /// A trailer field line (`isEmpty` while nothing but an optional CR was read: the end of the body).
        case trailerLine(isEmpty: Bool)
        case complete
    }

    private var state: State = .sizeLine(size: 0, sawDigit: false, digitsEnded: false)
    private var lineLength = 0
    private let maximumLineSize: Int

    init(maximumLineSize: Int) {
        self.maximumLineSize = maximumLineSize
    }

    /// Consumes body bytes from the front of `input`, stopping right after the body's last byte.
    mutating func consume(_ input: inout ByteBuffer) -> Outcome {
        while input.readableBytes > 0 {
            if case .data(let remaining) = self.state {
                let count = Int(min(remaining, UInt64(input.readableBytes)))
                input.moveReaderIndex(forwardBy: count)
                self.state = UInt64(count) == remaining ? .dataEnd(sawCR: false) : .data(remaining: remaining - UInt64(count))
                continue
            }
            let byte = input.readInteger(as: UInt8.self)!
            if let failure = self.take(byte) { return .malformed(failure) }
            if case .complete = self.state { return .complete }
        }
        return .needMoreBytes
    }

    /// One byte of framing; returns why the body is malformed, if it is.
    private mutating func take(_ byte: UInt8) -> String? {
        switch self.state {
        case .sizeLine(let size, let sawDigit, let digitsEnded):
            if byte == UInt8(ascii: "\n") {
                guard sawDigit else { return "a chunk without a size" }
                self.lineLength = 0
                self.state = size == 0 ? .trailerLine(isEmpty: true) : .data(remaining: size)
                return nil
            }
            guard self.countLineByte() else { return "a chunk-size line longer than \(self.maximumLineSize) bytes" }
            if !digitsEnded, let digit = Self.hexValue(byte) {
                guard size >> 60 == 0 else { return "a chunk size too large" }
                self.state = .sizeLine(size: size << 4 | UInt64(digit), sawDigit: true, digitsEnded: false)
                return nil
            }
            guard sawDigit else { return "a chunk size that is not hexadecimal" }
            // A chunk extension, whitespace before it, or the CR: skipped up to the LF.
            self.state = .sizeLine(size: size, sawDigit: true, digitsEnded: true)
            return nil
        case .dataEnd(let sawCR):
            if byte == UInt8(ascii: "\r"), !sawCR {
                self.state = .dataEnd(sawCR: true)
                return nil
            }
            guard byte == UInt8(ascii: "\n") else { return "chunk data longer than its size" }
            self.state = .sizeLine(size: 0, sawDigit: false, digitsEnded: false)
            return nil
        case .trailerLine(let isEmpty):
            if byte == UInt8(ascii: "\n") {
                self.lineLength = 0
                self.state = isEmpty ? .complete : .trailerLine(isEmpty: true)
                return nil
            }
            guard self.countLineByte() else { return "a trailer line longer than \(self.maximumLineSize) bytes" }
            let onlyCR = isEmpty && byte == UInt8(ascii: "\r") && self.lineLength == 1
            self.state = .trailerLine(isEmpty: onlyCR)
            return nil
        case .data, .complete:
            preconditionFailure("Internal inconsistency: chunked framing took a byte in state \(self.state)")
        }
    }

    private mutating func countLineByte() -> Bool {
        self.lineLength += 1
        return self.lineLength <= self.maximumLineSize
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
