import Foundation
import SwitchboardProtocol
import Testing
@testable import SwitchboardServer

@Suite struct ChannelPermissionsTests {
    static let permissions: ChannelPermissions = {
        var configuration = ServerConfiguration()
        configuration.namespaces = [
            "": NamespaceOptions(subscribe: .anyone, publish: .nobody),
            "chat": NamespaceOptions(subscribe: .authenticated, publish: .subscribers),
            "open": NamespaceOptions(subscribe: .anyone, publish: .subscribers),
            "board": NamespaceOptions(subscribe: .authenticated, publish: .authenticated),
            "room": NamespaceOptions(subscribe: .token, publish: .authenticated),
            "user": NamespaceOptions(subscribe: .anyone, publish: .subscribers, personal: true),
        ]
        return ChannelPermissions(configuration: configuration)
    }()

    static let later = Date(timeIntervalSince1970: 2_000_000_000)
    static let alice = Credentials(user: "alice", expiresAt: later, channels: ["room:lobby", "room:team-*", "*literal"])
    static let bob = Credentials(user: "bob", expiresAt: later)


    /// The code of a refusal, nil for allow: the table below compares codes, messages are checked apart.
    static func code(_ decision: ChannelPermissions.Decision) -> ErrorCode? {
        if case .deny(let code, _) = decision { return code }
        return nil
    }

    @Test func subscribeTable() {
        let cases: [(channel: String, who: Credentials?, expected: ErrorCode?)] = [
            // Default namespace: anyone.
            ("lobby", nil, nil),
            ("lobby", Self.bob, nil),
            // authenticated
            ("chat:general", nil, .unauthorized),
            ("chat:general", Self.bob, nil),
            ("open:general", nil, nil),
            // token: the channel must be granted, exactly or by a trailing-* prefix.
            ("room:lobby", nil, .unauthorized),
            ("room:lobby", Self.bob, .permissionDenied),
            ("room:lobby", Self.alice, nil),
            ("room:lobby2", Self.alice, .permissionDenied),
            ("room:lobb", Self.alice, .permissionDenied),
            ("room:team-red", Self.alice, nil),
            ("room:team-", Self.alice, nil),
            ("room:team", Self.alice, .permissionDenied),
            ("room:other", Self.alice, .permissionDenied),
            // personal: `user:<id>` is its owner's only, even though the namespace says anyone.
            ("user:alice", Self.alice, nil),
            ("user:bob", Self.bob, nil),
            ("user:bob", Self.alice, .permissionDenied),
            ("user:alice", nil, .unauthorized),
            ("user:", Self.alice, .permissionDenied),
            ("user:alice:inbox", Self.alice, .permissionDenied),
            ("user:alic", Self.alice, .permissionDenied),
            // Unknown namespace, invalid names.
            ("nope:x", Self.alice, .unknownChannel),
            ("", Self.alice, .badRequest),
            ("chat:two words", Self.alice, .badRequest),
            ("chat:tab\there", Self.alice, .badRequest),
            ("chat:nul\u{0}", Self.alice, .badRequest),
            ("chat:zero\u{200B}width", Self.alice, .badRequest),
            ("chat:rtl\u{202E}", Self.alice, .badRequest),
            ("chat:nbsp\u{00A0}", Self.alice, .badRequest),
            ("chat:" + String(repeating: "x", count: 250), Self.alice, nil),
            ("chat:" + String(repeating: "x", count: 251), Self.alice, .badRequest),
            ("chat:" + String(repeating: "é", count: 125), Self.alice, nil),
            ("chat:" + String(repeating: "é", count: 126), Self.alice, .badRequest),
            ("chat:café-☕", Self.alice, nil),
        ]
        for item in cases {
            let decision = Self.permissions.canSubscribe(to: item.channel, credentials: item.who)
            #expect(Self.code(decision) == item.expected, "\(item.channel.prefix(40)) as \(item.who?.user ?? "anonymous"): \(decision)")
        }
    }

    @Test func publishTable() {
        let cases: [(channel: String, who: Credentials?, subscribed: Bool, expected: ErrorCode?)] = [
            // nobody: only the HTTP API publishes.
            ("lobby", Self.bob, true, .notAvailable),
            ("lobby", nil, true, .notAvailable),
            // subscribers
            ("chat:general", Self.bob, true, nil),
            ("chat:general", Self.bob, false, .notSubscribed),
            ("chat:general", nil, true, .unauthorized),
            ("open:general", nil, true, nil),
            ("open:general", nil, false, .notSubscribed),
            // authenticated, and allowed to subscribe
            ("board:news", Self.bob, false, nil),
            ("board:news", nil, true, .unauthorized),
            ("room:lobby", Self.alice, false, nil),
            ("room:lobby", Self.bob, true, .permissionDenied),
            // personal: the owner, subscribed
            ("user:alice", Self.alice, true, nil),
            ("user:alice", Self.alice, false, .notSubscribed),
            ("user:alice", Self.bob, true, .permissionDenied),
            // names first
            ("nope:x", Self.alice, true, .unknownChannel),
            ("chat: x", Self.alice, true, .badRequest),
        ]
        for item in cases {
            let decision = Self.permissions.canPublish(to: item.channel, credentials: item.who, isSubscribed: item.subscribed)
            #expect(Self.code(decision) == item.expected, "\(item.channel) as \(item.who?.user ?? "anonymous"), subscribed \(item.subscribed): \(decision)")
        }
    }

    /// A trailing `*` is a prefix; a `*` anywhere else is a character like any other.
    @Test func wildcardOnlyAtTheEnd() {
        var configuration = ServerConfiguration()
        configuration.namespaces = ["": NamespaceOptions(subscribe: .token)]
        let permissions = ChannelPermissions(configuration: configuration)
        let holder = Credentials(user: "u", expiresAt: Self.later, channels: ["*literal", "a*b", "pre*"])
        #expect(permissions.canSubscribe(to: "*literal", credentials: holder) == .allow)
        #expect(permissions.canSubscribe(to: "xliteral", credentials: holder) != .allow)
        #expect(permissions.canSubscribe(to: "a*b", credentials: holder) == .allow)
        #expect(permissions.canSubscribe(to: "axb", credentials: holder) != .allow)
        #expect(permissions.canSubscribe(to: "prefix", credentials: holder) == .allow)
        let everything = Credentials(user: "u", expiresAt: Self.later, channels: ["*"])
        #expect(permissions.canSubscribe(to: "anything", credentials: everything) == .allow)
    }

    /// Grants and personal channels compare bytes: a decomposed "é" is not the precomposed one.
    @Test func namesAreComparedAsBytes() {
        let precomposed = "room:caf\u{E9}"
        let decomposed = "room:cafe\u{301}"
        #expect(precomposed == decomposed, "Swift strings say these are equal")
        let holder = Credentials(user: "u", expiresAt: Self.later, channels: [precomposed])
        #expect(Self.permissions.canSubscribe(to: precomposed, credentials: holder) == .allow)
        #expect(Self.code(Self.permissions.canSubscribe(to: decomposed, credentials: holder)) == .permissionDenied)
        let prefixHolder = Credentials(user: "u", expiresAt: Self.later, channels: ["room:cafe\u{301}*"])
        #expect(Self.permissions.canSubscribe(to: "room:cafe\u{301}-x", credentials: prefixHolder) == .allow)
        #expect(Self.code(Self.permissions.canSubscribe(to: "room:caf\u{E9}-x", credentials: prefixHolder)) == .permissionDenied)
        let owner = Credentials(user: "jos\u{E9}", expiresAt: Self.later)
        #expect(Self.permissions.canSubscribe(to: "user:jos\u{E9}", credentials: owner) == .allow)
        #expect(Self.code(Self.permissions.canSubscribe(to: "user:jose\u{301}", credentials: owner)) == .permissionDenied)
    }

    @Test func messagesNameTheProblem() {
        #expect(Self.permissions.canSubscribe(to: "nope:x", credentials: nil) == .deny(.unknownChannel, message: "the namespace of nope:x is not configured"))
        #expect(Self.permissions.canSubscribe(to: "room:x", credentials: Self.alice) == .deny(.permissionDenied, message: "the token does not grant room:x"))
        #expect(Self.permissions.canPublish(to: "lobby", credentials: Self.alice, isSubscribed: true)
                == .deny(.notAvailable, message: "clients cannot publish in lobby: only the HTTP API can"))
        var noDefault = ServerConfiguration()
        noDefault.namespaces = ["chat": NamespaceOptions()]
        #expect(ChannelPermissions(configuration: noDefault).canSubscribe(to: "lobby", credentials: Self.alice)
                == .deny(.unknownChannel, message: "channels without a namespace are not configured"))
    }

    /// The shipped defaults: the demo chat and personal notifications.
    @Test func defaultNamespaces() {
        let permissions = ChannelPermissions(configuration: ServerConfiguration())
        #expect(permissions.canSubscribe(to: "chat:lobby", credentials: Self.bob) == .allow)
        #expect(Self.code(permissions.canSubscribe(to: "chat:lobby", credentials: nil)) == .unauthorized)
        #expect(permissions.canPublish(to: "chat:lobby", credentials: Self.bob, isSubscribed: true) == .allow)
        #expect(permissions.canSubscribe(to: "user:bob", credentials: Self.bob) == .allow)
        #expect(Self.code(permissions.canSubscribe(to: "user:bob", credentials: Self.alice)) == .permissionDenied)
        #expect(Self.code(permissions.canPublish(to: "user:bob", credentials: Self.bob, isSubscribed: true)) == .notAvailable)
    }
}
