import BenchmarkSupport
import NIOCore

/// A message from a node, read from its bytes for the cases that come by the million (see ``JSONBytes``).
enum ScannedMessage {
    /// `{"channel":…,"data":{…"t":T…},"epoch":"E","offset":N,"type":"publication"}`.
    case publication(isBroadcast: Bool, offset: UInt64, epoch: Range<Int>, sentAt: UInt64?)
    /// `{"connect":{…},"id":1,"type":"reply"}`.
    case connected
    /// `{"id":N,"subscribe":{"epoch":"E","offset":N[,"publications":[],"recovered":B]},"type":"reply"}`: a
    /// subscribe reply without publications to process.
    case subscribed(id: UInt64, offset: UInt64, epoch: Range<Int>, recovered: Bool?)
    /// Anything else: decode it properly.
    case other
}

/// Reads the messages of the run's protocol exchange without decoding them.
struct PushReader {
    private let broadcastChannel: [UInt8]
    private static let channelKey = Array(#"{"channel":""#.utf8)
    private static let publicationSuffix = Array(#""type":"publication"}"#.utf8)
    private static let dataKey = Array(#""data":"#.utf8)
    private static let timeKey = Array(#""t":"#.utf8)
    private static let epochKey = Array(#""epoch":""#.utf8)
    private static let offsetKey = Array(#""offset":"#.utf8)
    private static let connectPrefix = Array(#"{"connect":{"#.utf8)
    private static let idPrefix = Array(#"{"id":"#.utf8)
    private static let subscribeKey = Array(#","subscribe":{"epoch":""#.utf8)
    private static let publicationsKey = Array(#""publications":["#.utf8)
    private static let recoveredTrue = Array(#""recovered":true"#.utf8)
    private static let recoveredFalse = Array(#""recovered":false"#.utf8)

    init(broadcastChannel: String) {
        self.broadcastChannel = Array(broadcastChannel.utf8) + [UInt8(ascii: "\"")]
    }

    /// Ranges in the result index `bytes`.
    func scan(_ bytes: UnsafeRawBufferPointer) -> ScannedMessage {
        if JSONBytes.hasPrefix(bytes, Self.channelKey) {
            guard JSONBytes.hasSuffix(bytes, Self.publicationSuffix),
                  let data = JSONBytes.find(Self.dataKey, in: bytes, from: Self.channelKey.count),
                  let epoch = JSONBytes.string(after: Self.epochKey, in: bytes, from: data),
                  let offset = JSONBytes.integer(after: Self.offsetKey, in: bytes, from: epoch.end)
            else { return .other }
            let isBroadcast = JSONBytes.hasPrefix(bytes, self.broadcastChannel, at: Self.channelKey.count)
            let sentAt = JSONBytes.integer(after: Self.timeKey, in: UnsafeRawBufferPointer(rebasing: bytes[..<epoch.value.lowerBound]),
                                           from: data)?.value
            return .publication(isBroadcast: isBroadcast, offset: offset.value, epoch: epoch.value, sentAt: sentAt)
        }
        if JSONBytes.hasPrefix(bytes, Self.connectPrefix) { return .connected }
        guard JSONBytes.hasPrefix(bytes, Self.idPrefix),
              let id = JSONBytes.integer(at: Self.idPrefix.count, in: bytes),
              JSONBytes.hasPrefix(bytes, Self.subscribeKey, at: id.end),
              case let epochStart = id.end + Self.subscribeKey.count,
              let epochEnd = JSONBytes.index(of: UInt8(ascii: "\""), in: bytes, from: epochStart),
              let offset = JSONBytes.integer(after: Self.offsetKey, in: bytes, from: epochEnd)
        else { return .other }
        if let publications = JSONBytes.find(Self.publicationsKey, in: bytes, from: offset.end),
           publications + Self.publicationsKey.count < bytes.count,
           bytes[publications + Self.publicationsKey.count] != UInt8(ascii: "]") {
            return .other
        }
        let recovered: Bool? = JSONBytes.find(Self.recoveredTrue, in: bytes, from: offset.end) != nil ? true
            : JSONBytes.find(Self.recoveredFalse, in: bytes, from: offset.end) != nil ? false : nil
        return .subscribed(id: id.value, offset: offset.value, epoch: epochStart..<epochEnd, recovered: recovered)
    }
}
