/// permessage-deflate negotiation (RFC 7692 §7.1) for both ends: the client's offer, the server's
/// choice among offers and its response, and the client's check of that response.
enum PerMessageDeflateNegotiation {
    static let extensionName = "permessage-deflate"

    /// RFC 7692 §7.1.2.1: window bits are "a decimal integer value without leading zeros between 8
    /// to 15, inclusive".
    static let windowBitsRange = 8...15

    /// The parameters of one permessage-deflate element, each checked against RFC 7692 §7.1.
    struct Parameters: Hashable {
        enum ClientWindowBits: Hashable {
            case absent
            /// `client_max_window_bits` without a value (only valid in an offer).
            case bare
            case value(Int)
        }

        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverMaxWindowBits: Int?
        var clientMaxWindowBits = ClientWindowBits.absent
    }

    /// Reads the parameters of a permessage-deflate element, or says which one breaks RFC 7692 §7.1:
    /// "A server MUST decline an extension negotiation offer for this extension if any of the following
    /// conditions are met: The negotiation offer contains an extension parameter not defined for use in
    /// an offer. The negotiation offer contains an extension parameter with an invalid value. The
    /// negotiation offer contains multiple extension parameters with the same name." The client's
    /// rules for a response are the same, except that `client_max_window_bits` must have a value.
    static func parseParameters(_ element: WebSocketExtension, isResponse: Bool) -> Result<Parameters, ParameterProblem> {
        var parameters = Parameters()
        var seen: Set<String> = []
        for parameter in element.parameters {
            let name = lowercasedASCII(parameter.name)
            guard seen.insert(name).inserted else { return .failure(.repeated(parameter.name)) }
            switch name {
            case "server_no_context_takeover", "client_no_context_takeover":
                // RFC 7692 §7.1.1.1 / §7.1.1.2: "This extension parameter has no value."
                guard parameter.value == nil else { return .failure(.invalidValue(parameter.name)) }
                if name == "server_no_context_takeover" {
                    parameters.serverNoContextTakeover = true
                } else {
                    parameters.clientNoContextTakeover = true
                }
            case "server_max_window_bits":
                // RFC 7692 §7.1.2.1: the parameter "has a value" in offers and responses alike.
                guard let bits = windowBits(parameter.value) else { return .failure(.invalidValue(parameter.name)) }
                parameters.serverMaxWindowBits = bits
            case "client_max_window_bits":
                // RFC 7692 §7.1.2.2: in an offer the parameter "has no value or a decimal integer value";
                // a response that carries it must say the size.
                if let value = parameter.value {
                    guard let bits = windowBits(value) else { return .failure(.invalidValue(parameter.name)) }
                    parameters.clientMaxWindowBits = .value(bits)
                } else {
                    guard !isResponse else { return .failure(.invalidValue(parameter.name)) }
                    parameters.clientMaxWindowBits = .bare
                }
            default:
                return .failure(.unknown(parameter.name))
            }
        }
        return .success(parameters)
    }

    enum ParameterProblem: Error, Hashable, CustomStringConvertible {
        case unknown(String)
        case repeated(String)
        case invalidValue(String)

        var description: String {
            switch self {
            case .unknown(let name): return "unknown permessage-deflate parameter \(name)"
            case .repeated(let name): return "repeated permessage-deflate parameter \(name)"
            case .invalidValue(let name): return "invalid value for permessage-deflate parameter \(name)"
            }
        }
    }

    /// `1*DIGIT` without leading zeros, 8...15.
    static func windowBits(_ value: String?) -> Int? {
        guard let value, let first = value.utf8.first, first != UInt8(ascii: "0"), value.utf8.count <= 2,
              value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let bits = Int(value), windowBitsRange.contains(bits) else { return nil }
        return bits
    }

    static func clamped(_ bits: Int) -> Int {
        min(max(bits, windowBitsRange.lowerBound), windowBitsRange.upperBound)
    }

    static func isDeflate(_ element: WebSocketExtension) -> Bool {
        HTTPGrammar.asciiCaseInsensitiveEquals(element.name, extensionName)
    }

    private static func lowercasedASCII(_ text: String) -> String {
        String(decoding: text.utf8.map(HTTPGrammar.asciiLowercased), as: UTF8.self)
    }

    // MARK: Server

    /// Accepts the first acceptable permessage-deflate offer among `offers`, or nil to negotiate no
    /// compression. An offer that breaks RFC 7692 §7.1 is declined and the next one considered
    /// (RFC 7692 §5: "the server ... picks one [offer] ... A server MAY decline"; clients send several
    /// offers in preference order as fallbacks). Declining never fails the handshake.
    static func negotiate(offers: [WebSocketExtension], configuration: PerMessageDeflateConfiguration)
        -> (parameters: PerMessageDeflateParameters, response: WebSocketExtension)? {
        for offer in offers where isDeflate(offer) {
            guard case .success(let requested) = parseParameters(offer, isResponse: false) else { continue }
            return accept(requested, configuration: configuration)
        }
        return nil
    }

    private static func accept(_ offer: Parameters, configuration: PerMessageDeflateConfiguration)
        -> (parameters: PerMessageDeflateParameters, response: WebSocketExtension) {
        var agreed = PerMessageDeflateParameters()
        var response = WebSocketExtension(name: extensionName)

        // RFC 7692 §7.1.1.1: "A server accepts an extension negotiation offer that includes the
        // "server_no_context_takeover" extension parameter by including the "server_no_context_takeover"
        // extension parameter in the corresponding extension negotiation response ... A server MAY
        // include [it] ... even if the extension negotiation offer being accepted by the server didn't
        // include [it]."
        if offer.serverNoContextTakeover || configuration.requestServerNoContextTakeover {
            agreed.serverNoContextTakeover = true
            response.parameters.append(.init(name: "server_no_context_takeover"))
        }
        // RFC 7692 §7.1.1.2: the server may include "client_no_context_takeover" whether or not the
        // client offered it; a client that offered it has told us it will not take over context anyway.
        if offer.clientNoContextTakeover || configuration.requestClientNoContextTakeover {
            agreed.clientNoContextTakeover = true
            response.parameters.append(.init(name: "client_no_context_takeover"))
        }

        // RFC 7692 §7.1.2.1: "A server accepts an extension negotiation offer with this parameter by
        // including the "server_max_window_bits" extension parameter in the extension negotiation
        // response to send back to the client with the same or smaller value as the offer." It may also
        // include it unasked, which is how the configured limit is applied.
        let serverBits = min(offer.serverMaxWindowBits ?? 15, clamped(configuration.serverMaxWindowBits))
        agreed.serverMaxWindowBits = serverBits
        if offer.serverMaxWindowBits != nil || serverBits < 15 {
            response.parameters.append(.init(name: "server_max_window_bits", value: String(serverBits)))
        }

        // RFC 7692 §7.1.2.2: "If a received extension negotiation offer doesn't have the
        // "client_max_window_bits" extension parameter, the corresponding extension negotiation response
        // to the offer MUST NOT include the "client_max_window_bits" extension parameter." The client may
        // then use a 15-bit window whatever we configured. With the parameter, the server may answer a
        // size no larger than the client's hint; without an answer the client may use 15 bits.
        switch offer.clientMaxWindowBits {
        case .absent:
            agreed.clientMaxWindowBits = 15
        case .bare, .value:
            var clientBits = clamped(configuration.clientMaxWindowBits)
            if case .value(let hint) = offer.clientMaxWindowBits { clientBits = min(clientBits, hint) }
            agreed.clientMaxWindowBits = clientBits
            if clientBits < 15 {
                response.parameters.append(.init(name: "client_max_window_bits", value: String(clientBits)))
            }
        }
        return (agreed, response)
    }

    // MARK: Client

    /// The client's single offer: `permessage-deflate; client_max_window_bits[=N]` (always offered, so
    /// that a server may limit our window; the value is our own limit when below 15), then
    /// `server_max_window_bits=N` when we want a smaller server window, then the no-context-takeover
    /// requests as configured.
    static func offer(configuration: PerMessageDeflateConfiguration) -> WebSocketExtension {
        var offer = WebSocketExtension(name: extensionName)
        let clientBits = clamped(configuration.clientMaxWindowBits)
        offer.parameters.append(.init(name: "client_max_window_bits", value: clientBits < 15 ? String(clientBits) : nil))
        let serverBits = clamped(configuration.serverMaxWindowBits)
        if serverBits < 15 {
            offer.parameters.append(.init(name: "server_max_window_bits", value: String(serverBits)))
        }
        if configuration.requestServerNoContextTakeover {
            offer.parameters.append(.init(name: "server_no_context_takeover"))
        }
        if configuration.requestClientNoContextTakeover {
            offer.parameters.append(.init(name: "client_no_context_takeover"))
        }
        return offer
    }

    /// Checks the server's permessage-deflate response against `offer` (by default the one built from
    /// `configuration`; RFC 7692 §7.1: the client MUST _Fail the WebSocket Connection_ on an unknown
    /// parameter, an invalid value, a repeated parameter, or a `client_max_window_bits` it did not
    /// offer), and returns the parameters both ends apply.
    static func validateResponse(_ response: WebSocketExtension, configuration: PerMessageDeflateConfiguration,
                                 offer sentOffer: WebSocketExtension? = nil)
        -> Result<PerMessageDeflateParameters, HandshakeError> {
        let answered: Parameters
        switch parseParameters(response, isResponse: true) {
        case .success(let parameters): answered = parameters
        case .failure(let problem): return .failure(HandshakeError(.invalidDeflateParameters, problem.description))
        }
        let offered: Parameters
        switch parseParameters(sentOffer ?? offer(configuration: configuration), isResponse: false) {
        case .success(let parameters): offered = parameters
        case .failure: preconditionFailure("Internal inconsistency: the permessage-deflate offer sent is invalid")
        }

        var agreed = PerMessageDeflateParameters()
        // A server may add either no-context-takeover unasked (RFC 7692 §7.1.1.1, §7.1.1.2); a client that
        // asked for client_no_context_takeover resets its own context whatever the answer.
        agreed.serverNoContextTakeover = answered.serverNoContextTakeover
        agreed.clientNoContextTakeover = answered.clientNoContextTakeover || offered.clientNoContextTakeover

        if let requested = offered.serverMaxWindowBits {
            // RFC 7692 §7.1.2.1: accepting our server_max_window_bits means answering it "with the same or
            // smaller value as the offer"; a server that ignores it could exceed the window we decompress.
            guard let bits = answered.serverMaxWindowBits, bits <= requested else {
                return .failure(HandshakeError(.invalidDeflateParameters,
                                               "server did not honour server_max_window_bits=\(requested)"))
            }
        }
        agreed.serverMaxWindowBits = answered.serverMaxWindowBits ?? 15

        switch answered.clientMaxWindowBits {
        case .absent:
            agreed.clientMaxWindowBits = clamped(configuration.clientMaxWindowBits)
        case .bare:
            preconditionFailure("Internal inconsistency: a response client_max_window_bits without a value was accepted")
        case .value(let bits):
            // RFC 7692 §7.1.2.2: "a client MUST _Fail the WebSocket Connection_ if ... the response
            // includes the "client_max_window_bits" extension parameter" without it having been offered.
            guard offered.clientMaxWindowBits != .absent else {
                return .failure(HandshakeError(.invalidDeflateParameters, "server sent client_max_window_bits that was not offered"))
            }
            agreed.clientMaxWindowBits = min(bits, clamped(configuration.clientMaxWindowBits))
        }
        return .success(agreed)
    }
}
