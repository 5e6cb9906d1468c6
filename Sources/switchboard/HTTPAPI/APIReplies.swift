import SwitchboardProtocol

/// `POST /api/publish`'s answer: the publication's position (docs/PROTOCOL.md, "POST /api/publish").
struct APIPublishReply: Codable, Sendable, Hashable {
    var epoch: String
    var offset: UInt64
}

/// The body of every HTTP API error: `{"error":{"code":104,"message":"…"}}` (docs/PROTOCOL.md, "HTTP API").
struct APIErrorReply: Codable, Sendable, Hashable {
    struct Detail: Codable, Sendable, Hashable {
        var code: ErrorCode
        var message: String
    }

    var error: Detail
}

/// The body `switchboard publish` sends.
struct APIPublishRequest: Codable, Sendable, Hashable {
    var channel: String
    var data: JSONValue
}
