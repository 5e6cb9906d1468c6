import NIOCore
import SwitchboardProtocol
import SwitchboardServer

/// What the history script read in one atomic step: the channel's position, Redis's clock, and entries.
struct HistoryRead {
    struct Entry {
        let offset: UInt64
        /// Milliseconds on Redis's clock.
        let publishedAt: UInt64
        let publication: Publication
    }

    let position: StreamPosition
    let now: UInt64
    /// In stream order (oldest first for `since`, newest first for `latest`).
    let entries: [Entry]

    init(_ reply: RESPValue, channel: String) throws {
        guard let fields = reply.elements, fields.count == 4, let epoch = fields[0].string, let offset = fields[1].int64,
              let now = fields[2].int64, let rawEntries = fields[3].elements else {
            throw RedisClientError.unexpectedReply("history script", reply)
        }
        self.position = StreamPosition(offset: UInt64(offset), epoch: epoch)
        self.now = UInt64(now)
        self.entries = try rawEntries.map { raw in
            // XRANGE entry: [id, [field, value, …]]; ids are "<offset>-0".
            guard let parts = raw.elements, parts.count == 2, let id = parts[0].string,
                  let entryOffset = UInt64(id.prefix { $0 != "-" }), let values = parts[1].elements else {
                throw RedisClientError.unexpectedReply("history script", raw)
            }
            var body: ByteBuffer?
            var publishedAt: UInt64 = 0
            var index = 0
            while index + 1 < values.count {
                switch values[index].string {
                case "b": if case .bulkString(let bytes) = values[index + 1] { body = bytes }
                case "t": publishedAt = values[index + 1].int64.map { UInt64($0) } ?? 0
                default: break
                }
                index += 2
            }
            guard let body else { throw RedisClientError.unexpectedReply("history script", raw) }
            let decoded = try BrokerWireFormat.decodeBody(body.readableBytesView)
            return Entry(offset: entryOffset, publishedAt: publishedAt,
                         publication: Publication(channel: channel, offset: entryOffset, epoch: epoch, data: decoded.data, info: decoded.info))
        }
    }

    /// The broker's answer, by the same rules as the memory broker: the complete gap after `since` or
    /// `notRecoverable`, never a partial list.
    func answer(since: StreamPosition?, limit: Int, retention: HistoryRetention) -> BrokerHistory {
        let maximumAge = UInt64(max(0, retention.seconds)) * 1000
        // Redis trims by count; age is checked here, against Redis's clock.
        let isFresh = { (entry: Entry) in self.now < entry.publishedAt || self.now - entry.publishedAt <= maximumAge }
        guard let since else {
            let fresh = self.entries.filter(isFresh).reversed().map(\.publication)
            return .publications(limit > 0 ? Array(fresh.suffix(limit)) : [], current: self.position)
        }
        guard since.epoch == self.position.epoch, since.offset <= self.position.offset else {
            return .notRecoverable(current: self.position)
        }
        let missed = self.position.offset - since.offset
        guard missed > 0 else { return .publications([], current: self.position) }
        guard missed <= UInt64(max(0, limit)), self.entries.count == Int(missed),
              self.entries.enumerated().allSatisfy({ $0.element.offset == since.offset + 1 + UInt64($0.offset) }),
              self.entries.allSatisfy(isFresh) else {
            return .notRecoverable(current: self.position)
        }
        return .publications(self.entries.map(\.publication), current: self.position)
    }
}
