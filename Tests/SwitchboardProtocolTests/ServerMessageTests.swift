import Foundation
import Testing
@testable import SwitchboardProtocol

@Suite struct ServerMessageTests {
    static let publication = Publication(channel: "chat:lobby", offset: 46, epoch: "x7Gk", data: ["text": "hi"],
                                         info: ClientInfo(user: "17", client: "c-1"))

    @Test(arguments: [
        ServerMessage.reply(id: 1, .connect(.init(client: "c-1", user: "17", expires: 3600, ping: 25))),
        .reply(id: 2, .subscribe(.init(epoch: "x7Gk", offset: 46, recovered: true, publications: [publication]))),
        .reply(id: 3, .unsubscribe),
        .reply(id: 4, .publish(.init(offset: 47, epoch: "x7Gk"))),
        .reply(id: 5, .presence(.init(clients: [ClientInfo(user: "17", client: "c-1", info: ["name": "Ada"])]))),
        .reply(id: 6, .history(.init(epoch: "x7Gk", offset: 47, publications: [publication]))),
        .reply(id: 7, .refresh(.init(expires: 600))),
        .reply(id: 8, .ping),
        .error(id: 9, .init(code: .permissionDenied, message: "permission denied: user:18")),
        .error(id: nil, .init(code: .badRequest, message: "a command must be a JSON object")),
        .publication(publication),
        .join(.init(channel: "chat:lobby", info: ClientInfo(user: "17", client: "c-1"))),
        .leave(.init(channel: "chat:lobby", info: ClientInfo(user: "17", client: "c-1"))),
        .unsubscribed(.init(channel: "chat:lobby", reason: "permission revoked")),
        .disconnect(.init(code: .shutdown, reason: "node draining", delay: 1700)),
    ])
    func roundTrips(message: ServerMessage) throws {
        let data = try JSONEncoder().encode(message)
        #expect(try JSONDecoder().decode(ServerMessage.self, from: data) == message)
    }

    @Test func wireShapeIsFlatWithTheTypeAndTheReplyKeyedByCommand() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let reply = String(decoding: try encoder.encode(ServerMessage.reply(id: 4, .publish(.init(offset: 47, epoch: "x7Gk")))), as: UTF8.self)
        #expect(reply == #"{"id":4,"publish":{"epoch":"x7Gk","offset":47},"type":"reply"}"#)
        let push = String(decoding: try encoder.encode(ServerMessage.disconnect(.init(code: .unauthorized, reason: "bad token"))), as: UTF8.self)
        #expect(push == #"{"code":4500,"reason":"bad token","reconnect":false,"type":"disconnect"}"#)
    }

    @Test func codeRangesEncodePolicy() {
        #expect(!ErrorCode.permissionDenied.isTemporary)
        #expect(ErrorCode.rateLimited.isTemporary && ErrorCode.unavailable.isTemporary)
        #expect(DisconnectCode.shutdown.shouldReconnect && DisconnectCode.slowConsumer.shouldReconnect && DisconnectCode.tokenExpired.shouldReconnect)
        #expect(!DisconnectCode.unauthorized.shouldReconnect && !DisconnectCode.forced.shouldReconnect)
        #expect(ServerMessage.Disconnect(code: .heartbeatTimeout, reason: "").reconnect)
    }

    @Test func integersBeyondDoublePrecisionSurvive() throws {
        let value: JSONValue = ["big": 9_007_199_254_740_993, "negative": -5, "fraction": 0.25]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }
}
