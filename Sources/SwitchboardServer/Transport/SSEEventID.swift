import Foundation
import SwitchboardProtocol

/// The `id` of an SSE event: every subscribed channel's position, so a browser's `EventSource`, which sends
/// the last id back as `Last-Event-ID` when it reconnects, resumes every channel where it stopped.
///
/// base64url of the JSON object `{"<channel>":[<offset>,"<epoch>"],…}`: opaque to clients, no characters SSE
/// forbids in an id (newlines). A garbled id is not ignored: its channels are answered `recovered: false`.
enum SSEEventID {
    static func encode(_ positions: [String: StreamPosition]) -> String {
        var object: [String: JSONValue] = [:]
        for (channel, position) in positions {
            object[channel] = .array([.integer(Int64(clamping: position.offset)), .string(position.epoch)])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(JSONValue.object(object))) ?? Data("{}".utf8)
        return Base64URL.encode(json)
    }

    /// A position no stream has (every epoch is non-empty): a channel resumed from it is answered
    /// `recovered: false`, so a client whose id could not be read is told its position was dropped.
    static let unreadable = StreamPosition(offset: 0, epoch: "")

    /// Where each of `channels` resumes, from a `Last-Event-ID`: nothing when there is no id; its position
    /// for a channel the id carries; ``unreadable`` for every channel when the id is not one of ours, and
    /// for a channel whose entry is malformed (a negative or fractional offset, a wrong shape).
    static func resume(_ id: String?, channels: [String]) -> [String: StreamPosition] {
        guard let id, !id.isEmpty else { return [:] }
        guard id.utf8.count <= 64 << 10, let bytes = Base64URL.decode(id),
              case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
            return Dictionary(uniqueKeysWithValues: channels.map { ($0, Self.unreadable) })
        }
        var positions: [String: StreamPosition] = [:]
        for channel in channels {
            guard let value = object[channel] else { continue }
            guard case .array(let pair) = value, pair.count == 2, case .integer(let offset) = pair[0], offset >= 0,
                  case .string(let epoch) = pair[1], !epoch.isEmpty else {
                positions[channel] = Self.unreadable
                continue
            }
            positions[channel] = StreamPosition(offset: UInt64(offset), epoch: epoch)
        }
        return positions
    }
}
