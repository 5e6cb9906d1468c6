import NIOCore

/// The client side of the opening handshake (RFC 6455 §4.1): builds the request and validates the
/// server's response.
///
/// The key is an input: RFC 6455 §4.1 wants "a randomly selected 16-byte value", and the engine has no
/// entropy source, so the transport draws 16 bytes and passes ``WebSocketAcceptKey/key(randomBytes:)``.
public struct ClientHandshake: Sendable, Hashable {
    /// What the server agreed to.
    public struct Acceptance: Sendable, Hashable {
        /// The subprotocol the server chose among those offered, or nil.
        public var subprotocol: String?
        /// The permessage-deflate agreement, or nil if messages are not compressed.
        public var deflate: PerMessageDeflateParameters?

        public init(subprotocol: String?, deflate: PerMessageDeflateParameters?) {
            self.subprotocol = subprotocol
            self.deflate = deflate
        }
    }

    /// Header fields the handshake itself sets; the same names in `extraHeaders` are ignored so that
    /// the request never carries two conflicting values.
    static let reservedHeaderNames = [
        "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Origin", "Content-Length", "Transfer-Encoding",
    ]

    /// The request head to send.
    public private(set) var request: HandshakeRequest
    /// The `Sec-WebSocket-Key` sent.
    public let key: String
    /// The subprotocols offered, in the client's order of preference.
    public let subprotocols: [String]
    /// The permessage-deflate configuration offered, or nil.
    public let deflate: PerMessageDeflateConfiguration?

    /// - Parameters:
    ///   - host: the `Host` value: the server's host, with `:port` unless the port is the scheme's
    ///     default (RFC 6455 §4.1 item 4).
    ///   - target: the request-target, the path and query of the WebSocket URI (e.g. `/chat?room=1`).
    ///   - key: base64 of 16 random bytes; see ``WebSocketAcceptKey/key(randomBytes:)``.
    ///   - subprotocols: offered in order of preference; sent as one `Sec-WebSocket-Protocol` field.
    ///   - extraHeaders: more fields (cookies, authorization, user agent); names the handshake sets
    ///     itself (Host, Upgrade, Connection, Origin, Sec-WebSocket-*, Content-Length,
    ///     Transfer-Encoding) are ignored.
    ///   - deflate: offer permessage-deflate with these limits, or nil.
    ///   - origin: the `Origin` field, which browsers send and servers may check (RFC 6455 §4.1 item 8).
    public init(host: String, target: String, key: String, subprotocols: [String] = [],
                extraHeaders: HTTPHeaderFields = HTTPHeaderFields(),
                deflate: PerMessageDeflateConfiguration? = nil, origin: String? = nil) {
        self.key = key
        self.subprotocols = subprotocols
        self.deflate = deflate

        // RFC 6455 §4.1 items 1–10, in that order.
        var headers = HTTPHeaderFields()
        headers.add(name: "Host", value: host)
        headers.add(name: "Upgrade", value: "websocket")
        headers.add(name: "Connection", value: "Upgrade")
        headers.add(name: "Sec-WebSocket-Key", value: key)
        if let origin { headers.add(name: "Origin", value: origin) }
        headers.add(name: "Sec-WebSocket-Version", value: "13")
        if !subprotocols.isEmpty {
            headers.add(name: "Sec-WebSocket-Protocol", value: subprotocols.joined(separator: ", "))
        }
        if let deflate {
            headers.add(name: "Sec-WebSocket-Extensions",
                        value: PerMessageDeflateNegotiation.offer(configuration: deflate).headerValue)
        }
        for field in extraHeaders
        where !Self.reservedHeaderNames.contains(where: { HTTPGrammar.asciiCaseInsensitiveEquals($0, field.name) }) {
            headers.add(name: field.name, value: field.value)
        }
        self.request = HandshakeRequest(method: "GET", target: target.isEmpty ? "/" : target, headers: headers)
    }

    /// Writes the request head.
    public func write(into buffer: inout ByteBuffer) {
        request.write(into: &buffer)
    }

    /// Checks the server's response head (RFC 6455 §4.1, "If the server's response does not conform to
    /// the requirements for the server's handshake ... the client MUST _Fail the WebSocket
    /// Connection_") and returns what was agreed.
    public func validate(_ response: HandshakeResponse) -> Result<Acceptance, HandshakeError> {
        // §4.1 item 1: "If the status code received from the server is not 101, the client handles the
        // response per HTTP [RFC2616] procedures." For this engine that is a failure the caller may act
        // on (follow a redirect, ask for credentials).
        guard response.status == 101 else {
            return .failure(HandshakeError(.unexpectedStatus, "server answered \(response.status) \(response.reason)"))
        }
        let headers = response.headers

        // §4.1 item 2: "If the response lacks an |Upgrade| header field or the |Upgrade| header field
        // contains a value that is not an ASCII case-insensitive match for the value "websocket"".
        let upgrade = HTTPGrammar.listElements(headers.values(for: "Upgrade"))
        guard upgrade.count == 1, HTTPGrammar.asciiCaseInsensitiveEquals(upgrade[0], "websocket") else {
            return .failure(HandshakeError(.missingUpgrade, "response Upgrade header is not websocket"))
        }
        // §4.1 item 3: "If the response lacks a |Connection| header field or the |Connection| header
        // field doesn't contain a token that is an ASCII case-insensitive match for the value "Upgrade"".
        guard HTTPGrammar.listContainsToken(headers.values(for: "Connection"), "upgrade") else {
            return .failure(HandshakeError(.missingConnectionUpgrade, "response Connection header lacks Upgrade"))
        }
        // §4.1 item 4: "If the response lacks a |Sec-WebSocket-Accept| header field or the
        // |Sec-WebSocket-Accept| contains a value other than the base64-encoded SHA-1 of the
        // concatenation of the |Sec-WebSocket-Key| (as a string, not base64-decoded) with the string
        // "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" but ignoring any leading and trailing whitespace".
        let accepts = headers.values(for: "Sec-WebSocket-Accept")
        guard accepts.count == 1 else {
            return .failure(HandshakeError(.acceptMismatch, accepts.isEmpty ? "missing Sec-WebSocket-Accept header"
                                                                          : "more than one Sec-WebSocket-Accept header"))
        }
        guard HTTPGrammar.trimWhitespace(Substring(accepts[0])) == WebSocketAcceptKey.accept(forKey: key) else {
            return .failure(HandshakeError(.acceptMismatch, "Sec-WebSocket-Accept mismatch"))
        }

        let subprotocol: String?
        switch validateSubprotocol(headers.values(for: "Sec-WebSocket-Protocol")) {
        case .success(let chosen): subprotocol = chosen
        case .failure(let error): return .failure(error)
        }
        switch validateExtensions(headers.values(for: "Sec-WebSocket-Extensions")) {
        case .success(let agreed): return .success(Acceptance(subprotocol: subprotocol, deflate: agreed))
        case .failure(let error): return .failure(error)
        }
    }

    /// §4.1 item 6: "If the response includes a |Sec-WebSocket-Protocol| header field and this header
    /// field indicates the use of a subprotocol that was not present in the client's handshake (the
    /// server has indicated a subprotocol not requested by the client), the client MUST _Fail the
    /// WebSocket Connection_." The server names one protocol at most.
    private func validateSubprotocol(_ values: [String]) -> Result<String?, HandshakeError> {
        guard !values.isEmpty else { return .success(nil) }
        let chosen = HTTPGrammar.listElements(values)
        guard chosen.count == 1 else {
            return .failure(HandshakeError(.unexpectedSubprotocol, "server chose more than one subprotocol"))
        }
        let name = String(chosen[0])
        guard subprotocols.contains(name) else {
            return .failure(HandshakeError(.unexpectedSubprotocol, "server chose subprotocol \(name) that was not offered"))
        }
        return .success(name)
    }

    /// §4.1 item 5: "If the response includes a |Sec-WebSocket-Extensions| header field and this header
    /// field indicates the use of an extension that was not present in the client's handshake (the
    /// server has indicated an extension not requested by the client), the client MUST _Fail the
    /// WebSocket Connection_."
    private func validateExtensions(_ values: [String]) -> Result<PerMessageDeflateParameters?, HandshakeError> {
        guard !values.isEmpty else { return .success(nil) }
        guard let accepted = WebSocketExtension.parse(headerValues: values) else {
            return .failure(HandshakeError(.unexpectedExtension, "malformed Sec-WebSocket-Extensions header"))
        }
        var agreed: PerMessageDeflateParameters?
        for element in accepted {
            guard let deflate, PerMessageDeflateNegotiation.isDeflate(element) else {
                return .failure(HandshakeError(.unexpectedExtension, "server accepted extension \(element.name) that was not offered"))
            }
            guard agreed == nil else {
                return .failure(HandshakeError(.unexpectedExtension, "server accepted permessage-deflate more than once"))
            }
            switch PerMessageDeflateNegotiation.validateResponse(element, configuration: deflate) {
            case .success(let parameters): agreed = parameters
            case .failure(let error): return .failure(error)
            }
        }
        return .success(agreed)
    }
}
