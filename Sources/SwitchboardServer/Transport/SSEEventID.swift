import Foundation
import SwitchboardProtocol

/// The `id` of an SSE event: every subscribed channel's position, so a browser's `EventSource`, which sends
/// the last id back as `Last-Event-ID` when it reconnects, resumes every channel where it stopped.
///
/// base64url of the JSON object `{"<channel>":[<offset>,"<epoch>"],…}`: opaque to clients, no characters SSE
/// forbids in an id (newlines), and a changed or garbled id simply recovers nothing.
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

    /// Positions from a `Last-Event-ID`; empty when the id is absent or not one of ours.
    static func decode(_ id: String?) -> [String: StreamPosition] {
        guard let id, !id.isEmpty, id.utf8.count <= 64 << 10 else { return [:] }
        guard let bytes = Base64URL.decode(id),
              case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else { return [:] }
        var positions: [String: StreamPosition] = [:]
        for (channel, value) in object {
            guard case .array(let pair) = value, pair.count == 2, case .integer(let offset) = pair[0], offset >= 0,
                  case .string(let epoch) = pair[1] else { continue }
            positions[channel] = StreamPosition(offset: UInt64(offset), epoch: epoch)
        }
        return positions
    }
}
