import Foundation
import SwiftProtobuf

/// Server messages in the `switchboard.v1.protobuf` subprotocol: one `switchboard.v1.ServerMessage` per binary
/// message (proto/switchboard/v1/switchboard.proto), the same message as the JSON text would be.
extension ServerMessage {
    /// The message as one binary message.
    public func protobufEncoded() -> [UInt8] {
        do {
            return try Switchboard_V1_ServerMessage(self).serializedBytes()
        } catch {
            // proto3 has no required fields: serializing a message built here cannot fail.
            preconditionFailure("Internal inconsistency: a server message did not serialize: \(error)")
        }
    }

    /// Reads one server message from a binary message.
    public static func decode(protobuf bytes: some Collection<UInt8>) throws(ProtobufMessageError) -> ServerMessage {
        let message: Switchboard_V1_ServerMessage
        do {
            message = try Switchboard_V1_ServerMessage(serializedBytes: Array(bytes))
        } catch {
            throw ProtobufMessageError("not a switchboard.v1.ServerMessage: \(error)")
        }
        switch message.message {
        case nil:
            throw ProtobufMessageError("a server message with no content, or one this client does not know")
        case .reply(let reply)?:
            return .reply(id: reply.id, try Reply(reply))
        case .error(let error)?:
            return .error(id: error.hasID ? error.id : nil, .init(code: ErrorCode(UInt16(clamping: error.code)), message: error.message))
        case .publication(let publication)?:
            return .publication(try Publication(publication))
        case .join(let event)?:
            return .join(try PresenceEvent(channel: event.channel, info: ClientInfo(event.info)))
        case .leave(let event)?:
            return .leave(try PresenceEvent(channel: event.channel, info: ClientInfo(event.info)))
        case .unsubscribed(let unsubscribed)?:
            return .unsubscribed(.init(channel: unsubscribed.channel, reason: unsubscribed.reason))
        case .disconnect(let disconnect)?:
            var decoded = Disconnect(code: DisconnectCode(UInt16(clamping: disconnect.code)), reason: disconnect.reason,
                                     delay: disconnect.hasDelay ? Int(clamping: disconnect.delay) : nil)
            decoded.reconnect = disconnect.reconnect
            return .disconnect(decoded)
        }
    }
}

/// A binary message that is not one of the protocol's.
public struct ProtobufMessageError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}

extension ServerMessage.Reply {
    init(_ reply: Switchboard_V1_Reply) throws(ProtobufMessageError) {
        switch reply.result {
        case nil:
            throw ProtobufMessageError("a reply with no result, or one this client does not know")
        case .connect(let connect)?:
            self = .connect(.init(client: connect.client, user: connect.user, expires: connect.hasExpires ? Int(clamping: connect.expires) : nil,
                                  ping: connect.hasPing ? Int(clamping: connect.ping) : nil))
        case .subscribe(let subscribe)?:
            self = .subscribe(.init(epoch: subscribe.epoch, offset: subscribe.offset, recovered: subscribe.hasRecovered ? subscribe.recovered : nil,
                                    publications: subscribe.hasRecovered ? try subscribe.publications.map(Publication.init) : nil))
        case .unsubscribe?:
            self = .unsubscribe
        case .publish(let publish)?:
            self = .publish(.init(offset: publish.offset, epoch: publish.epoch))
        case .presence(let presence)?:
            self = .presence(.init(clients: try presence.clients.map(ClientInfo.init)))
        case .history(let history)?:
            self = .history(.init(epoch: history.epoch, offset: history.offset, publications: try history.publications.map(Publication.init)))
        case .refresh(let refresh)?:
            self = .refresh(.init(expires: refresh.hasExpires ? Int(clamping: refresh.expires) : nil))
        case .ping?:
            self = .ping
        }
    }
}

extension Switchboard_V1_ServerMessage {
    init(_ message: ServerMessage) {
        self.init()
        switch message {
        case .reply(let id, let reply):
            self.reply = .init(id: id, reply)
        case .error(let id, let error):
            self.error = .with {
                if let id { $0.id = id }
                $0.code = UInt32(error.code.rawValue)
                $0.message = error.message
            }
        case .publication(let publication):
            self.publication = .init(publication)
        case .join(let event):
            self.join = .with { $0.channel = event.channel; $0.info = .init(event.info) }
        case .leave(let event):
            self.leave = .with { $0.channel = event.channel; $0.info = .init(event.info) }
        case .unsubscribed(let unsubscribed):
            self.unsubscribed = .with { $0.channel = unsubscribed.channel; $0.reason = unsubscribed.reason }
        case .disconnect(let disconnect):
            self.disconnect = .with {
                $0.code = UInt32(disconnect.code.rawValue)
                $0.reason = disconnect.reason
                $0.reconnect = disconnect.reconnect
                if let delay = disconnect.delay { $0.delay = Int64(delay) }
            }
        }
    }
}

extension Switchboard_V1_Reply {
    init(id: UInt64, _ reply: ServerMessage.Reply) {
        self.init()
        self.id = id
        switch reply {
        case .connect(let result):
            self.connect = .with {
                $0.client = result.client
                $0.user = result.user
                if let expires = result.expires { $0.expires = Int64(expires) }
                if let ping = result.ping { $0.ping = Int64(ping) }
            }
        case .subscribe(let result):
            self.subscribe = .with {
                $0.epoch = result.epoch
                $0.offset = result.offset
                if let recovered = result.recovered { $0.recovered = recovered }
                $0.publications = (result.publications ?? []).map(Switchboard_V1_Publication.init)
            }
        case .unsubscribe:
            self.unsubscribe = .init()
        case .publish(let result):
            self.publish = .with { $0.offset = result.offset; $0.epoch = result.epoch }
        case .presence(let result):
            self.presence = .with {
                $0.clients = result.clients.map(Switchboard_V1_ClientInfo.init)
                $0.clientCount = Int64(result.clientCount)
                $0.userCount = Int64(result.userCount)
            }
        case .history(let result):
            self.history = .with {
                $0.epoch = result.epoch
                $0.offset = result.offset
                $0.publications = result.publications.map(Switchboard_V1_Publication.init)
            }
        case .refresh(let result):
            self.refresh = .with { if let expires = result.expires { $0.expires = Int64(expires) } }
        case .ping:
            self.ping = .init()
        }
    }
}

extension Switchboard_V1_Publication {
    init(_ publication: Publication) {
        self.init()
        self.channel = publication.channel
        self.offset = publication.offset
        self.epoch = publication.epoch
        self.data = Data(publication.data.bytes)
        if let info = publication.info { self.info = .init(info) }
    }
}

extension Publication {
    init(_ publication: Switchboard_V1_Publication) throws(ProtobufMessageError) {
        let data: RawJSON
        do {
            data = try RawJSON(validating: publication.data)
        } catch {
            throw ProtobufMessageError("publication data in \(publication.channel) is not JSON text: \(error)")
        }
        self.init(channel: publication.channel, offset: publication.offset, epoch: publication.epoch, data: data,
                  info: publication.hasInfo ? try ClientInfo(publication.info) : nil)
    }
}

extension Switchboard_V1_ClientInfo {
    init(_ info: ClientInfo) {
        self.init()
        self.user = info.user
        self.client = info.client
        if let value = info.info { self.info = Data(RawJSON(value).bytes) }
    }
}

extension ClientInfo {
    init(_ info: Switchboard_V1_ClientInfo) throws(ProtobufMessageError) {
        var value: JSONValue?
        if !info.info.isEmpty {
            do {
                value = try RawJSON(validating: info.info).value
            } catch {
                throw ProtobufMessageError("client info of \(info.client) is not JSON text: \(error)")
            }
        }
        self.init(user: info.user, client: info.client, info: value)
    }
}
