import BenchmarkSupport
import NIOCore
import SwitchboardProtocol

/// What the benchmark needs from one publication push.
struct ScannedPublication {
    var offset: UInt64
    /// ``JSONBytes/hash(_:)`` of the epoch: compared per message without making a `String`.
    var epochHash: UInt64
    /// The rate step that published it (`s` in the data).
    var step: Int
    /// When the publisher meant to send it (`t` in the data), monotonic nanoseconds.
    var sentNanoseconds: UInt64
}

/// Reads publication pushes straight from their bytes (see ``JSONBytes``). A push reads
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
            guard JSONBytes.hasSuffix(bytes, Self.typeSuffix),
                  let data = JSONBytes.find(Self.dataKey, in: bytes, from: 0),
                  let step = JSONBytes.integer(after: Self.stepKey, in: bytes, from: data),
                  let time = JSONBytes.integer(after: Self.timeKey, in: bytes, from: step.end),
                  let epochStart = JSONBytes.find(Self.epochKey, in: bytes, from: time.end).map({ $0 + Self.epochKey.count }),
                  let epochEnd = JSONBytes.index(of: UInt8(ascii: "\""), in: bytes, from: epochStart),
                  let offset = JSONBytes.integer(after: Self.offsetKey, in: bytes, from: epochEnd),
                  step.value < UInt64(Int.max)
            else { return nil }
            let epoch = UnsafeRawBufferPointer(rebasing: bytes[epochStart..<epochEnd])
            return ScannedPublication(offset: offset.value, epochHash: JSONBytes.hash(epoch), step: Int(step.value),
                                      sentNanoseconds: time.value)
        }
    }

    /// The same from a `switchboard.v1.protobuf` binary message: decoded, then its data (JSON text) scanned.
    static func scan(protobuf buffer: ByteBuffer) -> ScannedPublication? {
        guard case .publication(let publication)? = try? ServerMessage.decode(protobuf: buffer.readableBytesView) else { return nil }
        return publication.data.bytes.withUnsafeBytes { data -> ScannedPublication? in
            guard let step = JSONBytes.integer(after: Self.stepKey, in: data, from: 0),
                  let time = JSONBytes.integer(after: Self.timeKey, in: data, from: step.end),
                  step.value < UInt64(Int.max)
            else { return nil }
            return ScannedPublication(offset: publication.offset, epochHash: JSONBytes.hash(publication.epoch), step: Int(step.value),
                                      sentNanoseconds: time.value)
        }
    }
}
