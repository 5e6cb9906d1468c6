import Testing
@testable import SwitchboardWebSocket

@Suite struct HandshakeExtensionParserTests {
    typealias Parameter = WebSocketExtension.Parameter

    @Test func listsAcrossSeveralHeadersConcatenate() {
        let parsed = WebSocketExtension.parse(headerValues: [
            "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
            " , permessage-deflate ;server_no_context_takeover , x-foo;a=\"b\" ,",
        ])
        #expect(parsed == [
            WebSocketExtension(name: "permessage-deflate", parameters: [
                Parameter(name: "client_max_window_bits"), Parameter(name: "server_max_window_bits", value: "10"),
            ]),
            WebSocketExtension(name: "permessage-deflate", parameters: [Parameter(name: "server_no_context_takeover")]),
            WebSocketExtension(name: "x-foo", parameters: [Parameter(name: "a", value: "b")]),
        ])
    }

    @Test func quotedValuesAreUnescaped() {
        let parsed = WebSocketExtension.parse(headerValues: ["e; p=\"1\\0\"; q = 9"])
        #expect(parsed == [WebSocketExtension(name: "e", parameters: [Parameter(name: "p", value: "10"),
                                                                       Parameter(name: "q", value: "9")])])
    }

    @Test func emptyValuesParseToNothing() {
        #expect(WebSocketExtension.parse(headerValues: []) == [])
        #expect(WebSocketExtension.parse(headerValues: ["", " , ,"]) == [])
    }

    @Test(arguments: [
        "permessage-deflate;",                   // parameter without a name
        "permessage-deflate; a=",                // value missing
        "permessage-deflate; a=\"b c\"",         // quoted value that is not a token
        "permessage-deflate; a=\"b",             // unterminated quoted-string
        "permessage-deflate a",                  // missing separator
        "perm(essage",                           // name is not a token
        ";a",                                    // parameter without an extension
        "permessage-deflate; a=b=c",
        "permessage-deflate; a=\"\"",            // empty is not a token
        "e; a=\"\u{01}\"",
    ])
    func malformedListsAreRejected(value: String) {
        #expect(WebSocketExtension.parse(headerValues: ["ok", value]) == nil, "\(value.debugDescription)")
    }

    @Test func headerValueRoundTrips() {
        let list = [
            WebSocketExtension(name: "permessage-deflate", parameters: [
                Parameter(name: "server_no_context_takeover"), Parameter(name: "client_max_window_bits", value: "9"),
            ]),
            WebSocketExtension(name: "x", parameters: [Parameter(name: "v", value: "has space")]),
        ]
        let text = WebSocketExtension.headerValue(of: list)
        #expect(text == "permessage-deflate; server_no_context_takeover; client_max_window_bits=9, x; v=\"has space\"")
        // A value that is not a token is written quoted but is not a valid RFC 6455 §9.1 value.
        #expect(WebSocketExtension.parse(headerValues: [list[0].headerValue]) == [list[0]])
    }
}
