import Foundation
import NIOCore
import SwitchboardProtocol
import SwitchboardServer

/// How publications and presence events are written into Redis and read back.
///
/// A publication's body is `v2\n<info>\n<data>`: the publishing client's info as JSON (empty from the HTTP
/// API), then the data's JSON text as the publishing node validated it, spliced in and read back as bytes, so
/// no node decodes or re-encodes it. (Info is JSON without line breaks; data may hold any.) The publish script
/// stores the body in the history stream as it is and publishes `<offset>\n<epoch>\n<body>`, so the offset it
/// assigned travels with the data without the script parsing JSON (Lua's cjson would turn integers above 2⁵³
/// into doubles). Bodies of the first format, a JSON object `{"data":…,"info":…}`, are still read.
enum BrokerWireFormat {
    private static let marker = Array("v2\n".utf8)

    /// The format before raw data: read only, for history written by older nodes.
    private struct LegacyBody: Codable {
        var data: JSONValue
        var info: ClientInfo?
    }

    private struct PresenceEvent: Codable {
        var change: String
        var client: ClientInfo
    }

    static func encodeBody(data: RawJSON, info: ClientInfo?) throws -> String {
        var body = Self.marker
        if let info { body += try JSONEncoder().encode(info) }
        body.append(UInt8(ascii: "\n"))
        body += data.bytes
        return String(decoding: body, as: UTF8.self)
    }

    static func decodeBody(_ bytes: some Collection<UInt8>) throws -> (data: RawJSON, info: ClientInfo?) {
        guard bytes.starts(with: Self.marker) else {
            let body = try JSONDecoder().decode(LegacyBody.self, from: Data(bytes))
            return (RawJSON(body.data), body.info)
        }
        let rest = bytes.dropFirst(Self.marker.count)
        guard let lineEnd = rest.firstIndex(of: UInt8(ascii: "\n")) else { throw BrokerError("malformed publication body") }
        let infoBytes = rest[..<lineEnd]
        let info = infoBytes.isEmpty ? nil : try JSONDecoder().decode(ClientInfo.self, from: Data(infoBytes))
        return (RawJSON(unchecked: Array(rest[rest.index(after: lineEnd)...])), info)
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
        let body = try self.decodeBody(bytes[(secondBreak + 1)...])
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
