import Foundation
import SwitchboardNodeTestSupport
import SwitchboardServer
import SwitchboardTestSupport
import Testing

/// `switchboard.js` on its own (no demo page) in headless Chromium: the behaviour of docs/CLIENTS.md that the
/// demo page does not exercise. Each test opens a page of the node (for its origin) and drives the client
/// with scripts.
extension BrowserTests {
    @Suite
    struct SwitchboardJSBrowserTests {
        /// A client whose tokens live 6 s keeps its connection and subscription past their lifetimes by
        /// refreshing before expiry (half-way through): the node never has to send 109.
        ///
        /// The node's grace is one no loaded machine misses, so a late refresh shows as the 109 it is, not as
        /// a reconnect; whether the node took each refresh is read from its metrics. What still depends on
        /// time is the client's head start: its refresh must reach the node within the token's second half.
        @Test(.timeLimit(.minutes(2)))
        func shortLivedTokensAreRefreshedWithoutLosingTheSubscription() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with({ $0.limits.tokenRefreshGrace = 600 }, developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    try await page.execute("""
                        const { Switchboard } = await import('/switchboard.js');
                        window.tokens = 0;
                        window.events = [];
                        const client = new Switchboard({ token: async () => {
                            window.tokens += 1;
                            return (await (await fetch('/dev/token?user=tina&ttl=6')).json()).token;
                        } });
                        client.on('state', (state) => window.events.push(state.type));
                        client.on('error', (error) => window.events.push('error:' + error.message));
                        client.on('message', (m) => { if (m.type === 'error') window.events.push('error ' + m.code); });
                        const feed = client.subscribe('chat:lobby', { publication: (p) => window.events.push('pub:' + p.data.n) });
                        await client.connect();
                        await feed.ready;
                        """)
                    let connected = ContinuousClock.now
                    // Two refreshes taken by the node, none refused.
                    #expect(try await eventually {
                        try await node.metric("switchboard_command_duration_seconds_count", labels: #"command="refresh""#) >= 2
                    })
                    #expect(try await node.metric("switchboard_command_errors_total") == 0)
                    // Past the first token's lifetime (a lower bound), on the same connection.
                    try await Task.sleep(until: connected + .milliseconds(6500), clock: .continuous)
                    try await node.apiPublish(#"{"n":1}"#, to: "chat:lobby")
                    try await page.waitUntil("window.events.includes('pub:1')", describe: "JSON.stringify(window.events)",
                                             "the subscription did not survive the token lifetimes")
                    let events = try await page.value("return window.events;", as: [String].self)
                    #expect(events == ["connecting", "connected", "pub:1"])
                    #expect(try await page.value("return window.tokens;", as: Int.self) >= 3)
                }
            }
        }

        /// `encoding: 'protobuf'`: the session in binary messages (switchboard-protobuf.js), sharing a channel
        /// with a back-end publishing JSON: publish, deliveries, history and presence all come through.
        @Test(.timeLimit(.minutes(2)))
        func theProtobufEncodingCarriesTheSession() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with({ _ in }, developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    try await page.execute("""
                        const { Switchboard } = await import('/switchboard.js');
                        window.events = [];
                        const client = new Switchboard({ encoding: 'protobuf',
                            token: async () => (await (await fetch('/dev/token?user=pat')).json()).token });
                        window.client = client;
                        const feed = client.subscribe('chat:binary', {
                            publication: (p) => window.events.push('pub ' + JSON.stringify(p.data) + ' @' + p.offset) });
                        await client.connect();
                        await feed.ready;
                        window.events.push('encoding ' + client.encoding);
                        await client.publish('chat:binary', { text: 'from the page', n: 1 });
                        """)
                    try await node.apiPublish(#"{"n":2}"#, to: "chat:binary")
                    try await page.waitUntil("window.events.length >= 3", describe: "JSON.stringify(window.events)", "the publications did not arrive")
                    try await page.execute("""
                        const history = await window.client.history('chat:binary');
                        window.events.push('history ' + history.publications.map((p) => p.offset).join(','));
                        const presence = await window.client.presence('chat:binary');
                        window.events.push('presence ' + presence.clients.map((c) => c.user).join(','));
                        """)
                    let events = try await page.value("return window.events;", as: [String].self)
                    #expect(events == ["encoding protobuf", #"pub {"text":"from the page","n":1} @1"#, #"pub {"n":2} @2"#,
                                       "history 1,2", "presence pat"])
                }
            }
        }

        /// A node with compression on: the browser's own permessage-deflate offer is agreed, and compressed
        /// publications (one frame shared by every subscriber) arrive whole, in both encodings.
        @Test(.timeLimit(.minutes(2)))
        func theBrowsersDeflateIsNegotiatedAndCompressedPublicationsArrive() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with({ $0.compression = CompressionConfiguration(enabled: true, threshold: 64) },
                                                developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    try await page.execute("""
                        const { Switchboard } = await import('/switchboard.js');
                        window.events = [];
                        const token = async () => (await (await fetch('/dev/token?user=pat')).json()).token;
                        for (const encoding of ['json', 'protobuf']) {
                            const client = new Switchboard({ encoding, token });
                            const feed = client.subscribe('chat:deflate', {
                                publication: (p) => window.events.push(encoding + ' ' + p.data.text.length + ' @' + p.offset) });
                            await client.connect();
                            await feed.ready;
                        }
                        const metrics = await (await fetch('/metrics')).text();
                        window.events.push('compressed ' + /^switchboard_compressed_connections (\\d+)/m.exec(metrics)[1]);
                        """)
                    let text = String(repeating: "compressible notification ", count: 80)
                    try await node.apiPublish(#"{"text":"\#(text)"}"#, to: "chat:deflate")
                    try await node.apiPublish(#"{"text":"short"}"#, to: "chat:deflate")
                    try await page.waitUntil("window.events.length >= 5", describe: "JSON.stringify(window.events)", "the publications did not arrive")
                    let events = try await page.value("return window.events;", as: [String].self)
                    #expect(events.first == "compressed 2")
                    #expect(Set(events.dropFirst()) == ["json \(text.count) @1", "protobuf \(text.count) @1", "json 5 @2", "protobuf 5 @2"])
                }
            }
        }

        /// 4501 from the back-end (`POST /api/disconnect`) stops the client: no reconnect, and publishing fails
        /// at once with `disconnected`.
        @Test(.timeLimit(.minutes(2)))
        func aForcedDisconnectIsNotReconnected() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    try await page.execute("""
                        const { Switchboard } = await import('/switchboard.js');
                        window.states = [];
                        window.client = new Switchboard({ token: async () => (await (await fetch('/dev/token?user=mallory')).json()).token });
                        window.client.on('state', (state) => window.states.push(state));
                        await window.client.connect();
                        """)
                    try await node.forceDisconnect(user: "mallory", reason: "banned")
                    try await page.waitUntil("window.client.state.type === 'disconnected'", describe: "JSON.stringify(window.states)",
                                             "the client did not stop")
                    try await Task.sleep(for: .seconds(2))
                    let last = try await page.value("return [window.client.state.code, window.client.state.reason, window.states.length];", as: [Any].self)
                    #expect(last[0] as? Int == 4501)
                    #expect(last[1] as? String == "banned")
                    #expect(last[2] as? Int == 3, "connecting, connected, disconnected: nothing after")
                    let kind = try await page.value("""
                        try { await window.client.publish('chat:lobby', {}); return 'published'; } catch (error) { return error.kind; }
                        """, as: String.self)
                    #expect(kind == "disconnected")
                }
            }
        }

        /// Publications made before connecting wait in the bounded queue (one more is refused, not dropped
        /// silently) and go out in call order once connected.
        @Test(.timeLimit(.minutes(2)))
        func theSendQueueIsBoundedAndFlushedInOrder() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    let result = try await page.value("""
                        const { Switchboard } = await import('/switchboard.js');
                        const client = new Switchboard({ sendQueueLimit: 3,
                            token: async () => (await (await fetch('/dev/token?user=quinn')).json()).token });
                        const received = [];
                        client.subscribe('chat:lobby', { publication: (p) => received.push(p.data.n) });
                        const queued = [1, 2, 3].map((n) => client.publish('chat:lobby', { n }));
                        const overflow = await client.publish('chat:lobby', { n: 4 }).then(() => 'accepted', (error) => error.kind);
                        await client.connect();
                        const positions = await Promise.all(queued);
                        while (received.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
                        return [overflow, positions.map((p) => p.offset).join(','), received.join(',')];
                        """, as: [String].self)
                    #expect(result == ["sendQueueFull", "1,2,3", "1,2,3"])
                }
            }
        }

        /// Over WebSocket and over SSE, no URL the client opens carries its token: every fetch, EventSource
        /// and WebSocket the page creates is recorded (besides the browser's own resource timing), and the SSE
        /// stream is seen opening with a ticket.
        @Test(.timeLimit(.minutes(2)))
        func noURLTheClientOpensCarriesItsToken() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    try await page.execute("""
                        window.urls = [];
                        window.tokens = [];
                        window.events = [];
                        const record = (url) => window.urls.push(String(url?.url ?? url));
                        const originalFetch = window.fetch;
                        window.fetch = (input, init) => { record(input); return originalFetch(input, init); };
                        const OriginalEventSource = window.EventSource;
                        window.EventSource = class extends OriginalEventSource {
                            constructor(url, init) { record(url); super(url, init); }
                        };
                        const OriginalWebSocket = window.WebSocket;
                        window.WebSocket = class extends OriginalWebSocket {
                            constructor(url, protocols) { record(url); super(url, protocols); }
                        };
                        const { Switchboard } = await import('/switchboard.js');
                        for (const transport of ['websocket', 'sse']) {
                            const client = new Switchboard({ transports: [transport], token: async () => {
                                const token = (await (await originalFetch('/dev/token?user=una')).json()).token;
                                window.tokens.push(token);
                                return token;
                            } });
                            const feed = client.subscribe('chat:lobby', { publication: (p) => window.events.push(transport + ':' + p.data.n) });
                            await client.connect();
                            await feed.ready;
                        }
                        """)
                    try await node.apiPublish(#"{"n":1}"#, to: "chat:lobby")
                    try await page.waitUntil("window.events.length === 2", describe: "JSON.stringify(window.events)",
                                             "both clients should get the publication")
                    let urls = try await page.value("return window.urls.concat(performance.getEntriesByType('resource').map((e) => e.name));",
                                                    as: [String].self)
                    let tokens = try await page.value("return window.tokens;", as: [String].self)
                    #expect(tokens.count == 2)
                    #expect(urls.contains { $0.contains("/connection/websocket") }, "\(urls)")
                    #expect(urls.contains { $0.contains("/connection/ticket") }, "\(urls)")
                    #expect(urls.contains { $0.contains("/connection/sse?") && $0.contains("ticket=") }, "\(urls)")
                    for url in urls {
                        #expect(!url.contains("token="), "a token parameter in \(url)")
                        #expect(!tokens.contains { url.contains($0) }, "a JWT in \(url)")
                    }
                }
            }
        }

        /// A publish whose answer is lost with the connection is sent again after the reconnect with the same
        /// idempotency key, and happens once. The page's WebSocket drops the first publish answer it receives
        /// and closes, as a network failing between the node's write and the page's read would.
        @Test(.timeLimit(.minutes(2)))
        func aPublishWhoseAnswerIsLostIsSentAgainWithItsKeyAndHappensOnce() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    let result = try await page.value("""
                        window.sent = [];
                        window.received = [];
                        window.armed = false;
                        const OriginalWebSocket = window.WebSocket;
                        window.WebSocket = class extends OriginalWebSocket {
                            send(data) { window.sent.push(JSON.parse(data)); super.send(data); }
                            set onmessage(handler) {
                                super.onmessage = handler && ((event) => {
                                    if (window.armed && String(event.data).includes('"publish":{')) {
                                        window.armed = false;
                                        this.close(4000);
                                        return;
                                    }
                                    handler(event);
                                });
                            }
                            get onmessage() { return super.onmessage; }
                        };
                        const { Switchboard } = await import('/switchboard.js');
                        const client = new Switchboard({ reconnect: { base: 50, cap: 200, maxAttempts: Infinity },
                            token: async () => (await (await fetch('/dev/token?user=vera')).json()).token });
                        const feed = client.subscribe('chat:lobby', { publication: (p) => window.received.push(p.data.n) });
                        await client.connect();
                        await feed.ready;
                        window.armed = true;
                        const position = await client.publish('chat:lobby', { n: 1 });
                        const keys = window.sent.filter((c) => c.type === 'publish').map((c) => c.idempotencyKey);
                        return [position.offset, keys.length, new Set(keys).size, keys.every((k) => typeof k === 'string' && k.length > 0)];
                        """, as: [Any].self)
                    #expect(result[0] as? Int == 1, "the first publication's offset: \(result)")
                    #expect(result[1] as? Int == 2, "sent twice: \(result)")
                    #expect(result[2] as? Int == 1, "with one key: \(result)")
                    #expect(result[3] as? Bool == true)
                    try await node.apiPublish(#"{"n":2}"#, to: "chat:lobby")
                    try await page.waitUntil("window.received.length >= 2", describe: "JSON.stringify(window.received)", "the publications did not arrive")
                    try await Task.sleep(for: .milliseconds(300))
                    #expect(try await page.value("return window.received;", as: [Int].self) == [1, 2])
                }
            }
        }
    }
}
