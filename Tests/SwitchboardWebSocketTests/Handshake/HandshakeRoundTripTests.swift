import NIOCore
import SwitchboardTestSupport
import Testing
@testable import SwitchboardWebSocket

/// A client and a server handshake talk to each other through bytes, as they would over a socket.
@Suite struct HandshakeRoundTripTests {
    private struct RoundTripFailure: Error {
        var reason: String
    }

    private struct Outcome: Equatable {
        var server: ServerHandshake.Acceptance
        var client: ClientHandshake.Acceptance
        var framesAfterResponse: [UInt8]
    }

    private func roundTrip(client: ClientHandshake, server configuration: ServerHandshake.Configuration,
                           seed: UInt64) throws -> Outcome {
        var generator = SeededGenerator(seed: seed)
        let earlyFrame: [UInt8] = [0x89, 0x80, 1, 2, 3, 4]   // a masked empty ping pipelined after the request
        var wire = ByteBuffer()
        client.write(into: &wire)
        wire.writeBytes(earlyFrame)

        var requestParser = HTTPHeadParser(kind: .request, maximumSize: 8192)
        var request: HandshakeRequest?
        var inbound = ByteBuffer()
        while request == nil, wire.readableBytes > 0 {
            let size = Int.random(in: 1...min(wire.readableBytes, 40), using: &generator)
            inbound.writeImmutableBuffer(wire.readSlice(length: size)!)
            switch requestParser.parse(&inbound) {
            case .request(let parsed): request = parsed
            case .needMoreBytes: continue
            case .response, .failure: throw RoundTripFailure(reason: "client request did not parse")
            }
        }
        inbound.writeImmutableBuffer(wire)
        #expect(Array(inbound.readableBytesView) == earlyFrame)

        let serverAcceptance = try ServerHandshake.accept(try #require(request), configuration: configuration).get()
        var reply = ByteBuffer()
        serverAcceptance.write(into: &reply)
        reply.writeBytes([0x81, 0x00])

        var responseParser = HTTPHeadParser(kind: .response, maximumSize: 8192)
        guard case .response(let response) = responseParser.parse(&reply) else {
            throw RoundTripFailure(reason: "server response did not parse")
        }
        let clientAcceptance = try client.validate(response).get()
        return Outcome(server: serverAcceptance, client: clientAcceptance, framesAfterResponse: Array(reply.readableBytesView))
    }

    @Test(arguments: UInt64(1)...8)
    func plainHandshakeRoundTrips(seed: UInt64) throws {
        let client = ClientHandshake(host: "localhost:8080", target: "/ws", key: "AQIDBAUGBwgJCgsMDQ4PEA==",
                                     subprotocols: ["v2.switchboard", "v1.switchboard"], extraHeaders: HTTPHeaderFields(),
                                     deflate: nil)
        let outcome = try roundTrip(client: client, server: .init(subprotocols: ["v1.switchboard", "v2.switchboard"]), seed: seed)
        #expect(outcome.server.subprotocol == "v1.switchboard")
        #expect(outcome.client.subprotocol == "v1.switchboard")
        #expect(outcome.client.deflate == nil && outcome.server.deflate == nil)
        #expect(outcome.framesAfterResponse == [0x81, 0x00])
    }

    @Test(arguments: [
        (PerMessageDeflateConfiguration(), PerMessageDeflateConfiguration()),
        (PerMessageDeflateConfiguration(serverMaxWindowBits: 10, clientMaxWindowBits: 12), PerMessageDeflateConfiguration()),
        (PerMessageDeflateConfiguration(), PerMessageDeflateConfiguration(serverMaxWindowBits: 9, clientMaxWindowBits: 8)),
        (PerMessageDeflateConfiguration(requestServerNoContextTakeover: true, serverMaxWindowBits: 8),
         PerMessageDeflateConfiguration(requestClientNoContextTakeover: true, clientMaxWindowBits: 11)),
        (PerMessageDeflateConfiguration(requestClientNoContextTakeover: true, clientMaxWindowBits: 9),
         PerMessageDeflateConfiguration(requestServerNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 10)),
    ])
    func deflateAgreementIsTheSameAtBothEnds(clientConfiguration: PerMessageDeflateConfiguration,
                                             serverConfiguration: PerMessageDeflateConfiguration) throws {
        let client = ClientHandshake(host: "localhost", target: "/", key: "AQIDBAUGBwgJCgsMDQ4PEA==", subprotocols: [],
                                     extraHeaders: HTTPHeaderFields(), deflate: clientConfiguration)
        let outcome = try roundTrip(client: client, server: .init(deflate: serverConfiguration), seed: 99)
        let server = try #require(outcome.server.deflate)
        let agreed = try #require(outcome.client.deflate)
        // What one end compresses with fits what the other decompresses with.
        #expect(agreed.serverMaxWindowBits == server.serverMaxWindowBits)
        #expect(agreed.serverNoContextTakeover == server.serverNoContextTakeover)
        #expect(agreed.clientMaxWindowBits <= server.clientMaxWindowBits)
        #expect(agreed.clientMaxWindowBits <= clientConfiguration.clientMaxWindowBits)
        #expect(server.serverMaxWindowBits <= min(clientConfiguration.serverMaxWindowBits, serverConfiguration.serverMaxWindowBits))
        #expect(server.clientMaxWindowBits <= serverConfiguration.clientMaxWindowBits)
        if clientConfiguration.requestServerNoContextTakeover || serverConfiguration.requestServerNoContextTakeover {
            #expect(agreed.serverNoContextTakeover)
        }
        if clientConfiguration.requestClientNoContextTakeover || serverConfiguration.requestClientNoContextTakeover {
            #expect(agreed.clientNoContextTakeover && server.clientNoContextTakeover)
        }
    }
}
