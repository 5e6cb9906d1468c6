/// Reads a `text/event-stream` body (the HTML Server-Sent Events format) as it arrives, in pieces of any
/// size: lines end with CRLF, LF or CR; `data:` lines accumulate until a blank line dispatches the event;
/// lines starting with `:` are comments (the node's `: ping`); `id`, `event` and `retry` are kept or ignored
/// as this client needs.
///
/// A value with no I/O: the SSE link feeds it the body's bytes and gets the events back.
struct EventStreamParser {
    struct Event: Equatable, Sendable {
        var data: String
        var id: String?
    }

    /// A line, or an event's data, longer than this ends the stream as malformed, so a broken peer cannot
    /// grow either without bound.
    let maximumLineLength: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    private var id: String?
    /// The previous byte was a CR: an LF right after it belongs to the same line end.
    private var afterCR = false

    init(maximumLineLength: Int = 1 << 20) {
        self.maximumLineLength = maximumLineLength
    }

    enum ParseError: Error, Equatable {
        case lineTooLong(Int)
        /// `data:` lines without the blank line that ends their event, together over the limit.
        case eventTooLarge(Int)
    }

    /// The events `bytes` complete, in order.
    mutating func feed(_ bytes: some Sequence<UInt8>) throws(ParseError) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if self.afterCR {
                self.afterCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            switch byte {
            case UInt8(ascii: "\r"):
                self.afterCR = true
                if let event = try self.endLine() { events.append(event) }
            case UInt8(ascii: "\n"):
                if let event = try self.endLine() { events.append(event) }
            default:
                guard self.line.count < self.maximumLineLength else { throw .lineTooLong(self.maximumLineLength) }
                self.line.append(byte)
            }
        }
        return events
    }

    private mutating func endLine() throws(ParseError) -> Event? {
        defer { self.line.removeAll(keepingCapacity: true) }
        guard !self.line.isEmpty else { return self.dispatch() }
        if self.line[0] == UInt8(ascii: ":") { return nil }
        let colon = self.line.firstIndex(of: UInt8(ascii: ":")) ?? self.line.endIndex
        let field = self.line[..<colon]
        var value = self.line[colon...].dropFirst()
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        // `event` (the node sends none), `retry` (the client keeps its own backoff) and unknown fields are ignored.
        if field.elementsEqual("data".utf8) {
            guard self.data.count + 1 + value.count <= self.maximumLineLength else { throw .eventTooLarge(self.maximumLineLength) }
            if self.hasData { self.data.append(UInt8(ascii: "\n")) }
            self.data.append(contentsOf: value)
            self.hasData = true
        } else if field.elementsEqual("id".utf8), !value.contains(0) {  // the spec ignores an id holding NUL
            self.id = String(decoding: value, as: UTF8.self)
        }
        return nil
    }

    private mutating func dispatch() -> Event? {
        guard self.hasData else { return nil }
        let event = Event(data: String(decoding: self.data, as: UTF8.self), id: self.id)
        self.data.removeAll(keepingCapacity: true)
        self.hasData = false
        return event
    }
}
