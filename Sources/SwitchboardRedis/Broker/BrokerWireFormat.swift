import Foundation
import NIOCore
import SwitchboardProtocol
import SwitchboardServer

/// How publications and presence events are written into Redis and read back.
///
/// A publication's body (`{"data":…,"info":…}`) is encoded here, once; the publish script stores it in the
/// history stream as it is and publishes `<offset>\n<epoch>\n<body>`, so the offset it assigned travels with
/// the data without the script parsing JSON (Lua's cjson would turn integers above 2⁵³ into doubles).
enum BrokerWireFormat {
    private struct Body: Codable {
        var data: JSONValue
        var info: ClientInfo?
    }

    private struct PresenceEvent: Codable {
        var change: String
        var client: ClientInfo
    }

    static func encodeBody(data: JSONValue, info: ClientInfo?) throws -> String {
        try self.json(Body(data: data, info: info))
    }

    static func decodeBody(_ bytes: ByteBuffer) throws -> (data: JSONValue, info: ClientInfo?) {
        let body = try JSONDecoder().decode(Body.self, from: Data(bytes.readableBytesView))
        return (body.data, body.info)
    }

    /// Reads what the publish script sent on the channel's pub/sub name.
    static func decodeMessage(_ payload: ByteBuffer, channel: String) throws -> Publication {
        let bytes = payload.readableBytesView
        guard let firstBreak = bytes.firstIndex(of: UInt8(ascii: "\n")),
              let secondBreak = bytes[(firstBreak + 1)...].firstIndex(of: UInt8(ascii: "\n")),
              let offset = UInt64(String(decoding: bytes[..<firstBreak], as: UTF8.self)) else {
            throw BrokerError("malformed publication message on \(channel)")
        }
        let epoch = String(decoding: bytes[(firstBreak + 1)..<secondBreak], as: UTF8.self)
        let body = try self.decodeBody(ByteBuffer(bytes: bytes[(secondBreak + 1)...]))
        return Publication(channel: channel, offset: offset, epoch: epoch, data: body.data, info: body.info)
    }

    static func encodeClient(_ client: ClientInfo) throws -> String {
        try self.json(client)
    }

    static func decodeClient(_ bytes: ByteBuffer) throws -> ClientInfo {
        try JSONDecoder().decode(ClientInfo.self, from: Data(bytes.readableBytesView))
    }

    static func encodePresenceEvent(_ change: PresenceChange, client: ClientInfo) throws -> String {
        try self.json(PresenceEvent(change: change.rawValue, client: client))
    }

    static func decodePresenceEvent(_ payload: ByteBuffer) throws -> (PresenceChange, ClientInfo) {
        let event = try JSONDecoder().decode(PresenceEvent.self, from: Data(payload.readableBytesView))
        guard let change = PresenceChange(rawValue: event.change) else { throw BrokerError("unknown presence change \(event.change)") }
        return (change, event.client)
    }

    private static func json(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }
}
