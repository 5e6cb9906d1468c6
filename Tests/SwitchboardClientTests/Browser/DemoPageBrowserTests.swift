import Foundation
import SwitchboardProtocol
import SwitchboardServer
import SwitchboardNodeTestSupport
import SwitchboardTestSupport
import Testing

/// The demo page on `/` and `switchboard.js` in a real headless Chromium, against a real node: people chat
/// across browsers, back-end publications appear, a restart of the node is survived with every missed
/// message recovered, and a page whose WebSocket cannot open works over SSE.
///
/// The page signs in with `GET /dev/token` as `serve` does without keys, and exposes what it shows on
/// `window.demo` (messages, notifications, states) besides the DOM.
extension BrowserTests {
    @Suite
    struct DemoPageBrowserTests {
        @Test(.timeLimit(.minutes(3)))
        func twoBrowsersChatAndBackEndPublicationsAppear() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let alice = try await driver.newSession()
                    let bob = try await driver.newSession()
                    try await alice.open("\(node.httpURL)/?user=alice")
                    try await bob.open("\(node.httpURL)/?user=bob")
                    for page in [alice, bob] {
                        try await page.waitUntil(Self.isLive(over: "websocket"), describe: Self.stateText, "the demo page did not connect")
                    }
                    try await alice.waitUntil("document.querySelectorAll('#people li').length === 2", describe: "#people".innerText,
                                              "alice does not see bob in the room")

                    try await alice.type("Morning! Is the deploy done?\n", into: "#text")
                    try await bob.waitUntil(Self.shows(user: "alice", text: "Morning! Is the deploy done?"), describe: Self.messagesText,
                                            "bob did not get alice's message")
                    try await bob.type("Yes, 10 minutes ago.\n", into: "#text")
                    try await alice.waitUntil(Self.shows(user: "bob", text: "Yes, 10 minutes ago."), describe: Self.messagesText,
                                              "alice did not get bob's answer")

                    // Back-ends publish through the HTTP API: into the room, and to alice alone.
                    try await node.apiPublish(#"{"text":"Deploy 142 finished: all green"}"#, to: "chat:lobby")
                    try await node.apiPublish(#"{"title":"Review requested","body":"bob asked you to review #318"}"#, to: "user:alice")
                    for page in [alice, bob] {
                        try await page.waitUntil(Self.shows(user: "server", text: "Deploy 142 finished: all green"), describe: Self.messagesText,
                                                 "the API publication did not reach the room")
                    }
                    try await alice.waitUntil("window.demo.notifications.some((n) => n.title === 'Review requested')",
                                              describe: "#notifications".innerText, "alice's notification did not appear")
                    try await alice.waitUntil("document.querySelector('#notifications li .title')?.textContent === 'Review requested'",
                                              "the notification is not in the list")
                    #expect(try await bob.value("return window.demo.notifications.length;", as: Int.self) == 0)

                    // Each message exactly once, in the order the node numbered them.
                    for page in [alice, bob] {
                        let offsets = try await page.value("return window.demo.messages.map((m) => m.offset);", as: [Int].self)
                        #expect(offsets == [1, 2, 3])
                    }
                    try await Self.saveScreenshot(of: alice, named: "demo.png")
                }
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func thePageRecoversWhatItMissedWhileTheNodeRestarted() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/?user=alice")
                    try await page.waitUntil(Self.isLive(over: "websocket"), describe: Self.stateText, "the demo page did not connect")
                    try await page.waitUntil("window.demo.client.state.type === 'connected' && document.querySelectorAll('#people li').length === 1",
                                             "the page did not join the room")
                    for number in 1...2 { try await node.apiPublish(#"{"text":"before \#(number)"}"#, to: "chat:lobby") }
                    try await page.waitUntil("window.demo.messages.length === 2", describe: Self.messagesText, "live messages did not arrive")

                    await node.shutdown()
                    try await page.waitUntil("['reconnecting', 'connecting'].includes(document.getElementById('state').dataset.state)",
                                             describe: Self.stateText, "the page did not notice the node going away")
                    // While the node is down: the back-end keeps publishing into the (persistent) broker, and alice
                    // writes a message, which waits in the send queue.
                    let chat = node.configuration.namespaces["chat"]!
                    for number in 1...5 {
                        try await node.publish(.object(["text": .string("during \(number)")]), to: "chat:lobby",
                                               retention: HistoryRetention(size: chat.historySize, seconds: chat.historyTTL))
                    }
                    try await page.type("written while offline\n", into: "#text")
                    try await page.waitUntil("document.querySelector('#messages .message.pending')", "the offline message is not shown as queued")

                    try await node.restart()
                    try await page.waitUntil("window.demo.messages.length === 8", describe: Self.messagesText,
                                             "the page did not recover the missed messages and send the queued one")
                    let texts = try await page.value("return window.demo.messages.map((m) => m.text);", as: [String].self)
                    #expect(texts == ["before 1", "before 2"] + (1...5).map { "during \($0)" } + ["written while offline"])
                    let offsets = try await page.value("return window.demo.messages.map((m) => m.offset);", as: [Int].self)
                    #expect(offsets == Array(1...8))
                    #expect(try await page.value("return document.querySelectorAll('#messages .message.pending').length;", as: Int.self) == 0)
                    let recoveredLine = try await page.value("return [...document.querySelectorAll('#messages .system')].map((e) => e.textContent).join('|');", as: String.self)
                    #expect(recoveredLine.contains("5 missed messages recovered"))
                    let states = try await page.value("return window.demo.states.map((s) => s.type);", as: [String].self)
                    #expect(states.contains("reconnecting"))
                    #expect(states.last == "connected")
                }
            }
        }

        @Test(.timeLimit(.minutes(3)))
        func aPageWhoseWebSocketIsBlockedWorksOverSSE() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let blocked = try await driver.newSession()
                    let open = try await driver.newSession()
                    // `block-websocket` points the page's WebSocket at a path the node refuses (404), as a proxy
                    // that strips upgrades would; the client must fall back to SSE by itself.
                    try await blocked.open("\(node.httpURL)/?user=carol&block-websocket")
                    try await open.open("\(node.httpURL)/?user=dave")
                    try await blocked.waitUntil(Self.isLive(over: "sse"), describe: Self.stateText, "the page did not fall back to SSE")
                    try await open.waitUntil(Self.isLive(over: "websocket"), describe: Self.stateText, "the other page did not connect")
                    try await blocked.waitUntil("document.querySelectorAll('#people li').length === 2", describe: "#people".innerText,
                                                "presence over SSE does not show both")

                    try await blocked.type("hello over SSE\n", into: "#text")
                    try await open.waitUntil(Self.shows(user: "carol", text: "hello over SSE"), describe: Self.messagesText,
                                             "the SSE page's message did not arrive over WebSocket")
                    try await open.type("and back over WebSocket\n", into: "#text")
                    try await blocked.waitUntil(Self.shows(user: "dave", text: "and back over WebSocket"), describe: Self.messagesText,
                                                "the SSE page did not receive the WebSocket page's message")
                    try await node.apiPublish(#"{"title":"Over SSE too"}"#, to: "user:carol")
                    try await blocked.waitUntil("window.demo.notifications.some((n) => n.title === 'Over SSE too')",
                                                describe: "#notifications".innerText, "the notification did not arrive over SSE")
                    let offsets = try await blocked.value("return window.demo.messages.map((m) => m.offset);", as: [Int].self)
                    #expect(offsets == [1, 2])
                }
            }
        }

        /// A join that reaches the page before the answer of a presence read made earlier stays on the list.
        /// Over SSE the answer comes on the command's HTTP response and the join on the event stream, so the
        /// join can overtake it (CI saw the SSE page above list itself alone for good): here the page's presence
        /// read is answered before dave joins, and the answer is held back until dave's join has arrived.
        @Test(.timeLimit(.minutes(3)))
        func aJoinThatOvertakesAPresenceAnswerStaysOnTheList() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let carol = try await driver.newSession()
                    try await carol.open("\(node.httpURL)/?user=carol")
                    try await carol.waitUntil(Self.isLive(over: "websocket"), describe: Self.stateText, "the page did not connect")
                    try await carol.waitUntil("document.querySelectorAll('#people li').length === 1", describe: "#people".innerText,
                                              "carol is not in the room")
                    _ = try await carol.value("""
                        const client = window.demo.client;
                        const read = client.presence.bind(client);
                        let release;
                        const released = new Promise((resolve) => { release = resolve; });
                        window.releasePresence = release;
                        client.presence = async (channel) => {
                          const answer = await read(channel);
                          window.presenceAnswered = answer.clients.length;
                          await released;
                          return answer;
                        };
                        window.demo.reloadPresence().then(() => { window.presenceReloaded = true; });
                        return true;
                        """, as: Bool.self)
                    try await carol.waitUntil("window.presenceAnswered === 1", "the presence read was not answered with carol alone")

                    let dave = try await driver.newSession()
                    try await dave.open("\(node.httpURL)/?user=dave")
                    try await dave.waitUntil(Self.isLive(over: "websocket"), describe: Self.stateText, "dave's page did not connect")
                    try await carol.waitUntil("document.querySelectorAll('#people li').length === 2", describe: "#people".innerText,
                                              "dave's join did not reach carol")
                    _ = try await carol.value("window.releasePresence(); return true;", as: Bool.self)
                    try await carol.waitUntil("window.presenceReloaded === true", "the presence read did not finish")
                    let people = try await carol.value("return [...document.querySelectorAll('#people li')].map((e) => e.textContent);", as: [String].self)
                    #expect(people.count == 2, "the older presence answer replaced dave's join: \(people)")
                }
            }
        }

        /// The hidden toast is wholly off-screen (a short one used to show a 12 px sliver), and shows when a
        /// notification comes; the page declares its icon, so the browser asks for no /favicon.ico (a 404
        /// in every console).
        @Test(.timeLimit(.minutes(2)))
        func theToastHidesWhollyAndThePageAsksForNoFavicon() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/?user=erin")
                    try await page.waitUntil(Self.isLive(over: "websocket"), describe: Self.stateText, "the page did not connect")
                    let offScreen = """
                        const toast = document.getElementById('toast');
                        return getComputedStyle(toast).visibility === 'hidden' || toast.getBoundingClientRect().top >= innerHeight;
                        """
                    #expect(try await page.value(offScreen, as: Bool.self), "the hidden toast is partly on screen")
                    #expect(try await page.value("return document.querySelector('link[rel=icon]')?.href.startsWith('data:') === true;", as: Bool.self))
                    try await node.apiPublish(#"{"title":"Toast"}"#, to: "user:erin")
                    try await page.waitUntil("""
                        getComputedStyle(document.getElementById('toast')).visibility === 'visible'
                            && document.getElementById('toast').getBoundingClientRect().bottom <= innerHeight
                        """, describe: "document.getElementById('toast').outerHTML", "the toast did not show")
                }
            }
        }

        @Test(.timeLimit(.minutes(2)))
        func clientRulesInTheBrowser() async throws {
            try await withBrowser { driver in
                try await RealtimeTestNode.with(developmentTokens: true) { node in
                    let page = try await driver.newSession()
                    try await page.open("\(node.httpURL)/health")
                    // Full jitter stays within [0, min(cap, base·2^(n−1))], and a server hint is a floor.
                    let delays = try await page.value("""
                        const { backoffDelay } = await import('/switchboard.js');
                        const policy = { base: 500, cap: 20000 };
                        return [backoffDelay(1, policy, () => 0.999), backoffDelay(3, policy, () => 0.999),
                                backoffDelay(10, policy, () => 0.999), backoffDelay(4, policy, () => 0), backoffDelay(1, policy, () => 0.5, 3000)];
                        """, as: [Int].self)
                    #expect(delays == [499, 1998, 19980, 0, 3000])
                    let verdicts = try await page.value("""
                        const { StreamCursor } = await import('/switchboard.js');
                        const cursor = new StreamCursor({ offset: 4, epoch: 'a' });
                        return [cursor.accept({ offset: 4, epoch: 'a' }), cursor.accept({ offset: 5, epoch: 'a' }),
                                cursor.accept({ offset: 7, epoch: 'a' }), cursor.accept({ offset: 1, epoch: 'b' }), cursor.accept({ offset: 1, epoch: 'b' })];
                        """, as: [String].self)
                    #expect(verdicts == ["duplicate", "deliver", "gap", "gap", "duplicate"])
                    // The code ranges are the Swift client's, code for code.
                    let codes = [1000, 1006, 3999, 4000, 4003, 4499, 4500, 4503, 4999, 5000]
                    let stops = try await page.value("""
                        const { forbidsReconnecting } = await import('/switchboard.js');
                        return \(codes).map(forbidsReconnecting);
                        """, as: [Bool].self)
                    #expect(stops == codes.map { DisconnectCode(UInt16($0)).forbidsReconnecting })
                    let errors = [100, 109, 199, 200, 202, 203, 299, 300]
                    let temporary = try await page.value("""
                        const { isTemporary } = await import('/switchboard.js');
                        return \(errors).map(isTemporary);
                        """, as: [Bool].self)
                    #expect(temporary == errors.map { ErrorCode(UInt16($0)).isTemporary })
                    // Served as a JavaScript module, revalidated on every load.
                    let headers = try await page.value("""
                        const response = await fetch('/switchboard.js');
                        return [response.headers.get('content-type'), response.headers.get('cache-control')];
                        """, as: [String].self)
                    #expect(headers.first?.hasPrefix("text/javascript") == true)
                    #expect(headers.last == "no-cache")
                }
            }
        }

        // MARK: - Helpers

        static func isLive(over transport: String) -> String {
            "document.getElementById('state').dataset.state === 'connected' && document.getElementById('state').dataset.transport === '\(transport)'"
        }

        static let stateText = "document.getElementById('state').textContent + ' ' + JSON.stringify(window.demo?.states ?? [])"
        static let messagesText = "JSON.stringify(window.demo?.messages ?? [])"

        static func shows(user: String, text: String) -> String {
            "window.demo.messages.some((m) => m.user === '\(user)' && m.text === '\(text)')"
        }

        /// The screenshot in the README comes from here: written to docs/ when `SWITCHBOARD_WRITE_SCREENSHOTS=1`,
        /// otherwise to a temporary file (so a test run leaves the tree clean).
        static func saveScreenshot(of page: BrowserSession, named name: String) async throws {
            let png = try await page.screenshot()
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "not a PNG")
            let folder = ProcessInfo.processInfo.environment["SWITCHBOARD_WRITE_SCREENSHOTS"] == "1"
                ? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("docs")
                : FileManager.default.temporaryDirectory
            try png.write(to: folder.appendingPathComponent(name))
        }
    }
}

private extension String {
    /// `"#people".innerText`: a page expression for the text of the element with that selector.
    var innerText: String { "document.querySelector('\(self)')?.innerText" }
}
