import Foundation
import SwiftProtobuf

/// Commands in the `switchboard.v1.protobuf` subprotocol: one `switchboard.v1.Command` per binary message
/// (proto/switchboard/v1/switchboard.proto), the same command as the JSON text would be.
extension ClientCommand {
    /// The command as one binary message.
    public func protobufEncoded() -> [UInt8] {
        do {
            return try Switchboard_V1_Command(self).serializedBytes()
        } catch {
            // proto3 has no required fields: serializing a message built here cannot fail.
            preconditionFailure("Internal inconsistency: a command did not serialize: \(error)")
        }
    }

    /// Reads one command from a binary message; a bad one yields the error reply to send, never a crash.
    ///
    /// A publish's data must be JSON, as in the JSON protocol: every subscriber of a channel gets the same
    /// publication, and a JSON subscriber can only be given JSON.
    public static func decode(protobuf bytes: some Collection<UInt8>) -> Result<ClientCommand, CommandDecodingError> {
        let message: Switchboard_V1_Command
        do {
            message = try Switchboard_V1_Command(serializedBytes: Array(bytes))
        } catch {
            return .failure(CommandDecodingError(id: nil, code: .badRequest, message: "not a switchboard.v1.Command: \(error)"))
        }
        let id = message.id
        let fail = { (code: ErrorCode, text: String) in Result<ClientCommand, CommandDecodingError>.failure(CommandDecodingError(id: id, code: code, message: text)) }
        switch message.body {
        case nil:
            return fail(.unknownCommand, "the command has no body, or one this node does not know")
        case .connect(let connect)?:
            return .success(ClientCommand(id: id, .connect(.init(token: connect.hasToken ? connect.token : nil,
                                                                 name: connect.hasName ? connect.name : nil,
                                                                 version: connect.hasVersion ? connect.version : nil))))
        case .subscribe(let subscribe)?:
            return .success(ClientCommand(id: id, .subscribe(.init(channel: subscribe.channel, since: subscribe.hasSince ? StreamPosition(subscribe.since) : nil))))
        case .unsubscribe(let unsubscribe)?:
            return .success(ClientCommand(id: id, .unsubscribe(.init(channel: unsubscribe.channel))))
        case .publish(let publish)?:
            let data: RawJSON
            do {
                data = try RawJSON(validating: publish.data)
            } catch {
                return fail(.badRequest, "publish data must be JSON text: \(error)")
            }
            return .success(ClientCommand(id: id, .publish(.init(channel: publish.channel, data: data,
                                                                 idempotencyKey: publish.hasIdempotencyKey ? publish.idempotencyKey : nil))))
        case .presence(let presence)?:
            return .success(ClientCommand(id: id, .presence(.init(channel: presence.channel))))
        case .history(let history)?:
            return .success(ClientCommand(id: id, .history(.init(channel: history.channel, since: history.hasSince ? StreamPosition(history.since) : nil,
                                                                 limit: history.hasLimit ? Int(clamping: history.limit) : nil))))
        case .refresh(let refresh)?:
            return .success(ClientCommand(id: id, .refresh(.init(token: refresh.token))))
        case .ping?:
            return .success(ClientCommand(id: id, .ping))
        }
    }
}

extension Switchboard_V1_Command {
    init(_ command: ClientCommand) {
        self.init()
        self.id = command.id
        switch command.body {
        case .connect(let connect):
            self.connect = .with {
                if let token = connect.token { $0.token = token }
                if let name = connect.name { $0.name = name }
                if let version = connect.version { $0.version = version }
            }
        case .subscribe(let subscribe):
            self.subscribe = .with {
                $0.channel = subscribe.channel
                if let since = subscribe.since { $0.since = .init(since) }
            }
        case .unsubscribe(let unsubscribe):
            self.unsubscribe = .with { $0.channel = unsubscribe.channel }
        case .publish(let publish):
            self.publish = .with {
                $0.channel = publish.channel
                $0.data = Data(publish.data.bytes)
                if let key = publish.idempotencyKey { $0.idempotencyKey = key }
            }
        case .presence(let presence):
            self.presence = .with { $0.channel = presence.channel }
        case .history(let history):
            self.history = .with {
                $0.channel = history.channel
                if let since = history.since { $0.since = .init(since) }
                if let limit = history.limit { $0.limit = Int64(limit) }
            }
        case .refresh(let refresh):
            self.refresh = .with { $0.token = refresh.token }
        case .ping:
            self.ping = .init()
        }
    }
}

extension Switchboard_V1_StreamPosition {
    init(_ position: StreamPosition) {
        self.init()
        self.offset = position.offset
        self.epoch = position.epoch
    }
}

extension StreamPosition {
    init(_ position: Switchboard_V1_StreamPosition) {
        self.init(offset: position.offset, epoch: position.epoch)
    }
}
