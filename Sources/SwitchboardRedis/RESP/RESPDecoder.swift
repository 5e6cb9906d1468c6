import NIOCore

/// Turns bytes from Redis into ``RESPValue``s, however the bytes are cut into reads.
///
/// Incremental: a finished element is consumed from the buffer at once and kept in the aggregate it belongs
/// to (a stack of partly filled arrays, maps, sets and pushes), so a reply of 100,000 elements arriving in
/// 1,000 reads is parsed once, not re-parsed from its start on every read. An element that is not complete
/// yet (a line without its CRLF, a bulk string without all its bytes) is left in the buffer untouched until
/// more bytes arrive.
///
/// Attributes (`|`) are read and dropped: RESP3 says a client may ignore them, and Redis sends them only
/// to clients that asked for them. Streamed strings and aggregates (length `?`) are refused: Redis does not
/// send them.
public struct RESPDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    /// Bounds that keep a misbehaving peer from making the client allocate without end.
    public struct Limits: Sendable, Hashable {
        /// Longest bulk string or line, in bytes (Redis's own `proto-max-bulk-len` default is 512 MiB).
        public var maximumLength: Int
        /// Most elements in one aggregate.
        public var maximumElements: Int
        /// Deepest nesting of aggregates.
        public var maximumDepth: Int

        public init(maximumLength: Int = 512 << 20, maximumElements: Int = 1 << 24, maximumDepth: Int = 64) {
            self.maximumLength = maximumLength
            self.maximumElements = maximumElements
            self.maximumDepth = maximumDepth
        }
    }

    private enum AggregateKind {
        case array, map, set, push, attribute
    }

    /// An aggregate whose header was read and whose elements are still arriving.
    private struct OpenAggregate {
        let kind: AggregateKind
        /// Elements still to come (a map of n pairs expects 2n).
        var remaining: Int
        var elements: [RESPValue]
    }

    private enum Step {
        case needMoreData
        /// A non-empty aggregate's header: its elements follow.
        case opened
        case value(RESPValue)
    }

    private let limits: Limits
    private var open: [OpenAggregate] = []

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    public mutating func decode(buffer: inout ByteBuffer) throws -> RESPValue? {
        while true {
            switch try self.readElement(&buffer) {
            case .needMoreData:
                return nil
            case .opened:
                continue
            case .value(let value):
                if let complete = self.finish(value) { return complete }
            }
        }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> RESPValue? {
        // A value cut off by the end of the stream is simply lost with the connection.
        try self.decode(buffer: &buffer)
    }

    /// Adds a finished element to the aggregate it belongs to, closing every aggregate it completes;
    /// returns the top-level value once there is one.
    private mutating func finish(_ element: RESPValue) -> RESPValue? {
        var value = element
        while !self.open.isEmpty {
            let last = self.open.count - 1
            self.open[last].elements.append(value)
            self.open[last].remaining -= 1
            guard self.open[last].remaining == 0 else { return nil }
            let aggregate = self.open.removeLast()
            guard let built = Self.build(aggregate) else {
                // An attribute describes the value after it; that value takes its place.
                return nil
            }
            value = built
        }
        return value
    }

    private static func build(_ aggregate: OpenAggregate) -> RESPValue? {
        switch aggregate.kind {
        case .array: return .array(aggregate.elements)
        case .set: return .set(aggregate.elements)
        case .push: return .push(aggregate.elements)
        case .attribute: return nil
        case .map:
            var pairs: [RESPValue.Pair] = []
            pairs.reserveCapacity(aggregate.elements.count / 2)
            var index = 0
            while index < aggregate.elements.count {
                pairs.append(.init(key: aggregate.elements[index], value: aggregate.elements[index + 1]))
                index += 2
            }
            return .map(pairs)
        }
    }

    /// Reads one element (a scalar, or an aggregate's header) if all of it is in the buffer.
    private mutating func readElement(_ buffer: inout ByteBuffer) throws -> Step {
        guard let type = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return .needMoreData }
        let lineStart = buffer.readerIndex + 1
        guard let lineEnd = try self.lineEnd(in: buffer, from: lineStart) else { return .needMoreData }
        let line = buffer.getString(at: lineStart, length: lineEnd - lineStart) ?? ""
        let afterLine = lineEnd + 2

        func consumeLine() { buffer.moveReaderIndex(to: afterLine) }

        switch type {
        case UInt8(ascii: "+"):
            consumeLine()
            return .value(.simpleString(line))
        case UInt8(ascii: "-"):
            consumeLine()
            return .value(.error(line))
        case UInt8(ascii: ":"):
            guard let value = Int64(line) else { throw RESPDecodingError.malformedNumber(line) }
            consumeLine()
            return .value(.integer(value))
        case UInt8(ascii: "_"):
            guard line.isEmpty else { throw RESPDecodingError.malformedLine("null with content") }
            consumeLine()
            return .value(.null)
        case UInt8(ascii: "#"):
            let value: Bool
            switch line {
            case "t": value = true
            case "f": value = false
            default: throw RESPDecodingError.malformedBoolean(line)
            }
            consumeLine()
            return .value(.boolean(value))
        case UInt8(ascii: ","):
            guard let value = Self.double(line) else { throw RESPDecodingError.malformedNumber(line) }
            consumeLine()
            return .value(.double(value))
        case UInt8(ascii: "("):
            guard Self.isInteger(line) else { throw RESPDecodingError.malformedNumber(line) }
            consumeLine()
            return .value(.bigNumber(line))
        case UInt8(ascii: "$"), UInt8(ascii: "!"), UInt8(ascii: "="):
            return try self.readBulk(type: type, header: line, payloadStart: afterLine, &buffer)
        case UInt8(ascii: "*"), UInt8(ascii: "%"), UInt8(ascii: "~"), UInt8(ascii: ">"), UInt8(ascii: "|"):
            return try self.openAggregate(type: type, header: line, afterLine: afterLine, &buffer)
        default:
            throw RESPDecodingError.unknownType(type)
        }
    }

    /// `$`, `!` and `=`: a length line, that many bytes, CRLF.
    private func readBulk(type: UInt8, header: String, payloadStart: Int, _ buffer: inout ByteBuffer) throws -> Step {
        guard header != "?" else { throw RESPDecodingError.streamedValueUnsupported }
        guard let length = Int(header) else { throw RESPDecodingError.malformedNumber(header) }
        if length == -1, type == UInt8(ascii: "$") {
            // RESP2's null bulk string.
            buffer.moveReaderIndex(to: payloadStart)
            return .value(.null)
        }
        guard length >= 0 else { throw RESPDecodingError.negativeLength(length) }
        guard length <= self.limits.maximumLength else { throw RESPDecodingError.tooLong(length, limit: self.limits.maximumLength) }
        let end = payloadStart + length
        guard buffer.writerIndex >= end + 2 else { return .needMoreData }
        guard buffer.getInteger(at: end, as: UInt16.self) == Self.crlf else { throw RESPDecodingError.missingTerminator }
        let payload = buffer.getSlice(at: payloadStart, length: length)!
        buffer.moveReaderIndex(to: end + 2)
        switch type {
        case UInt8(ascii: "!"):
            return .value(.error(String(buffer: payload)))
        case UInt8(ascii: "="):
            // RESP3: "the first three bytes provide information about the format", then a colon.
            guard length >= 4, payload.getInteger(at: payload.readerIndex + 3, as: UInt8.self) == UInt8(ascii: ":") else {
                throw RESPDecodingError.malformedVerbatim
            }
            let format = payload.getString(at: payload.readerIndex, length: 3) ?? ""
            let text = payload.getString(at: payload.readerIndex + 4, length: length - 4) ?? ""
            return .value(.verbatimString(format: format, text: text))
        default:
            return .value(.bulkString(payload))
        }
    }

    private mutating func openAggregate(type: UInt8, header: String, afterLine: Int, _ buffer: inout ByteBuffer) throws -> Step {
        guard header != "?" else { throw RESPDecodingError.streamedValueUnsupported }
        guard let count = Int(header) else { throw RESPDecodingError.malformedNumber(header) }
        buffer.moveReaderIndex(to: afterLine)
        if count == -1, type == UInt8(ascii: "*") {
            // RESP2's null array.
            return .value(.null)
        }
        guard count >= 0 else { throw RESPDecodingError.negativeLength(count) }
        guard count <= self.limits.maximumElements else { throw RESPDecodingError.tooManyElements(count, limit: self.limits.maximumElements) }
        let kind: AggregateKind
        switch type {
        case UInt8(ascii: "*"): kind = .array
        case UInt8(ascii: "%"): kind = .map
        case UInt8(ascii: "~"): kind = .set
        case UInt8(ascii: ">"): kind = .push
        default: kind = .attribute
        }
        let expected = (kind == .map || kind == .attribute) ? count * 2 : count
        guard expected > 0 else {
            guard let empty = Self.build(OpenAggregate(kind: kind, remaining: 0, elements: [])) else {
                // An empty attribute: nothing to drop, the value follows.
                return .opened
            }
            return .value(empty)
        }
        guard self.open.count < self.limits.maximumDepth else { throw RESPDecodingError.nestedTooDeeply(limit: self.limits.maximumDepth) }
        var elements: [RESPValue] = []
        // The count comes from the peer: reserve only what a small reply needs, grow with what arrives.
        elements.reserveCapacity(min(expected, 1024))
        self.open.append(OpenAggregate(kind: kind, remaining: expected, elements: elements))
        return .opened
    }

    private static let crlf = UInt16(UInt8(ascii: "\r")) << 8 | UInt16(UInt8(ascii: "\n"))

    /// Where the CRLF ending the line that starts at `start` is, nil when it has not arrived yet.
    private func lineEnd(in buffer: ByteBuffer, from start: Int) throws -> Int? {
        let view = buffer.readableBytesView
        let startInView = view.startIndex + (start - buffer.readerIndex)
        guard startInView <= view.endIndex else { return nil }
        guard let carriageReturn = view[startInView...].firstIndex(of: UInt8(ascii: "\r")) else {
            if view.endIndex - startInView > self.limits.maximumLength {
                throw RESPDecodingError.tooLong(view.endIndex - startInView, limit: self.limits.maximumLength)
            }
            return nil
        }
        let next = view.index(after: carriageReturn)
        guard next < view.endIndex else { return nil }
        // RESP: lines never hold CR or LF, so a CR is always the start of the terminator.
        guard view[next] == UInt8(ascii: "\n") else { throw RESPDecodingError.malformedLine("CR not followed by LF") }
        return buffer.readerIndex + (carriageReturn - view.startIndex)
    }

    private static func double(_ text: String) -> Double? {
        switch text {
        case "inf", "+inf": return .infinity
        case "-inf": return -.infinity
        case "nan", "-nan": return .nan
        default: return Double(text)
        }
    }

    private static func isInteger(_ text: String) -> Bool {
        let digits = text.hasPrefix("-") || text.hasPrefix("+") ? text.dropFirst() : Substring(text)
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }
}
