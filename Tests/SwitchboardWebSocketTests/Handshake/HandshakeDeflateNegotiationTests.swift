import Testing
@testable import SwitchboardWebSocket

@Suite struct HandshakeDeflateNegotiationTests {
    /// The server's agreement and response header for the given offer header values, or nil.
    private func negotiate(_ offers: [String], _ configuration: PerMessageDeflateConfiguration = .init())
        -> (parameters: PerMessageDeflateParameters, header: String)? {
        guard let parsed = WebSocketExtension.parse(headerValues: offers) else {
            Issue.record("offer \(offers) must parse")
            return nil
        }
        return PerMessageDeflateNegotiation.negotiate(offers: parsed, configuration: configuration)
            .map { ($0.parameters, $0.response.headerValue) }
    }

    @Test func plainOfferIsAcceptedWithDefaults() {
        let result = negotiate(["permessage-deflate"])
        #expect(result?.parameters == PerMessageDeflateParameters())
        #expect(result?.header == "permessage-deflate")
    }

    @Test func firstAcceptableOfferWins() {
        let result = negotiate(["permessage-deflate; server_max_window_bits=10; client_max_window_bits, permessage-deflate"])
        #expect(result?.header == "permessage-deflate; server_max_window_bits=10")
        #expect(result?.parameters.serverMaxWindowBits == 10)
    }

    @Test(arguments: [
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; x_unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
    ])
    func badOffersAreDeclinedAndTheNextConsidered(bad: String) {
        #expect(negotiate([bad]) == nil, "\(bad)")
        let fallback = negotiate([bad, "permessage-deflate; client_no_context_takeover"])
        #expect(fallback?.header == "permessage-deflate; client_no_context_takeover", "\(bad)")
    }

    @Test func otherExtensionsAreSkipped() {
        #expect(negotiate(["x-webkit-deflate-frame, deflate-stream"]) == nil)
        #expect(negotiate(["x-webkit-deflate-frame", "PerMessage-Deflate"])?.header == "permessage-deflate")
    }

    @Test func quotedWindowBitsAreAccepted() {
        #expect(negotiate(["permessage-deflate; server_max_window_bits=\"12\""])?.parameters.serverMaxWindowBits == 12)
    }

    @Test func noContextTakeoverRequestsAreHonoured() {
        let result = negotiate(["permessage-deflate; server_no_context_takeover; client_no_context_takeover"])
        #expect(result?.header == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        #expect(result?.parameters == PerMessageDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true))
    }

    @Test func serverConfigurationAddsNoContextTakeover() {
        let configuration = PerMessageDeflateConfiguration(requestServerNoContextTakeover: true, requestClientNoContextTakeover: true)
        let result = negotiate(["permessage-deflate"], configuration)
        #expect(result?.header == "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
    }

    @Test func serverWindowIsAtMostRequestedAndConfigured() {
        #expect(negotiate(["permessage-deflate; server_max_window_bits=12"], .init(serverMaxWindowBits: 10))?.header
                == "permessage-deflate; server_max_window_bits=10")
        #expect(negotiate(["permessage-deflate; server_max_window_bits=9"], .init(serverMaxWindowBits: 10))?.header
                == "permessage-deflate; server_max_window_bits=9")
        // 8 is negotiable even though zlib compresses with 9 (the codec's concern).
        #expect(negotiate(["permessage-deflate; server_max_window_bits=8"])?.parameters.serverMaxWindowBits == 8)
        // The server may limit its own window unasked (RFC 7692 §7.1.2.1).
        #expect(negotiate(["permessage-deflate"], .init(serverMaxWindowBits: 11))?.header
                == "permessage-deflate; server_max_window_bits=11")
        #expect(negotiate(["permessage-deflate; server_max_window_bits=15"])?.header
                == "permessage-deflate; server_max_window_bits=15")
    }

    @Test func clientWindowIsAnsweredOnlyWhenOffered() {
        // Offered bare: the server may limit it to its configuration.
        let bare = negotiate(["permessage-deflate; client_max_window_bits"], .init(clientMaxWindowBits: 10))
        #expect(bare?.header == "permessage-deflate; client_max_window_bits=10")
        #expect(bare?.parameters.clientMaxWindowBits == 10)
        // Offered with a value: the answer is no larger than it.
        let hinted = negotiate(["permessage-deflate; client_max_window_bits=9"], .init(clientMaxWindowBits: 12))
        #expect(hinted?.header == "permessage-deflate; client_max_window_bits=9")
        #expect(hinted?.parameters.clientMaxWindowBits == 9)
        // Not offered: never answered, and the client may use 15 whatever the configuration says.
        let absent = negotiate(["permessage-deflate"], .init(clientMaxWindowBits: 10))
        #expect(absent?.header == "permessage-deflate")
        #expect(absent?.parameters.clientMaxWindowBits == 15)
        // Offered bare with a default configuration: nothing to limit.
        #expect(negotiate(["permessage-deflate; client_max_window_bits"])?.header == "permessage-deflate")
    }

    @Test func clientOfferReflectsConfiguration() {
        #expect(PerMessageDeflateNegotiation.offer(configuration: .init()).headerValue
                == "permessage-deflate; client_max_window_bits")
        let limited = PerMessageDeflateConfiguration(requestServerNoContextTakeover: true, requestClientNoContextTakeover: true,
                                                     serverMaxWindowBits: 10, clientMaxWindowBits: 12)
        #expect(PerMessageDeflateNegotiation.offer(configuration: limited).headerValue
                == "permessage-deflate; client_max_window_bits=12; server_max_window_bits=10; server_no_context_takeover; client_no_context_takeover")
    }

    /// The client's check of a server response to the offer built from `configuration`.
    private func validate(_ response: String, _ configuration: PerMessageDeflateConfiguration = .init())
        -> Result<PerMessageDeflateParameters, HandshakeError> {
        guard let parsed = WebSocketExtension.parse(headerValues: [response]), parsed.count == 1 else {
            Issue.record("response \(response) must parse to one element")
            return .failure(HandshakeError(.malformedResponse, "test"))
        }
        return PerMessageDeflateNegotiation.validateResponse(parsed[0], configuration: configuration)
    }

    private func failureKind(_ result: Result<PerMessageDeflateParameters, HandshakeError>) -> HandshakeError.Kind? {
        if case .failure(let error) = result { return error.kind }
        return nil
    }

    @Test func clientAcceptsValidResponses() throws {
        #expect(try validate("permessage-deflate").get() == PerMessageDeflateParameters())
        #expect(try validate("permessage-deflate; server_no_context_takeover; client_max_window_bits=9").get()
                == PerMessageDeflateParameters(serverNoContextTakeover: true, clientMaxWindowBits: 9))
        // The server may limit its own window unasked.
        #expect(try validate("permessage-deflate; server_max_window_bits=8").get().serverMaxWindowBits == 8)
        let configuration = PerMessageDeflateConfiguration(serverMaxWindowBits: 12, clientMaxWindowBits: 11)
        let agreed = try validate("permessage-deflate; server_max_window_bits=10", configuration).get()
        #expect(agreed.serverMaxWindowBits == 10)
        #expect(agreed.clientMaxWindowBits == 11)
    }

    @Test(arguments: [
        "permessage-deflate; x_unknown",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; server_max_window_bits=9; server_max_window_bits=9",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=abc",
        "permessage-deflate; client_no_context_takeover=1",
    ])
    func clientRejectsInvalidResponses(response: String) {
        #expect(failureKind(validate(response)) == .invalidDeflateParameters, "\(response)")
    }

    @Test func clientRejectsIgnoredServerWindowRequest() {
        let configuration = PerMessageDeflateConfiguration(serverMaxWindowBits: 10)
        #expect(failureKind(validate("permessage-deflate", configuration)) == .invalidDeflateParameters)
        #expect(failureKind(validate("permessage-deflate; server_max_window_bits=11", configuration)) == .invalidDeflateParameters)
        #expect(failureKind(validate("permessage-deflate; server_max_window_bits=10", configuration)) == nil)
    }

    /// RFC 7692 §7.1.2.2: a response with client_max_window_bits to an offer without it fails. Our own
    /// offer always carries the parameter, so this uses a bare offer as other clients send it.
    @Test func clientRejectsClientWindowBitsItDidNotOffer() {
        let bareOffer = WebSocketExtension(name: "permessage-deflate")
        let response = WebSocketExtension(name: "permessage-deflate",
                                          parameters: [.init(name: "client_max_window_bits", value: "10")])
        let result = PerMessageDeflateNegotiation.validateResponse(response, configuration: .init(), offer: bareOffer)
        #expect(failureKind(result) == .invalidDeflateParameters)
        #expect(failureKind(PerMessageDeflateNegotiation.validateResponse(response, configuration: .init())) == nil)
    }
}
