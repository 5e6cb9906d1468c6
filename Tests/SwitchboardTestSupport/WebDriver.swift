import Foundation
import NIOConcurrencyHelpers

/// A headless Chromium driven over the W3C WebDriver protocol (plain JSON over HTTP to `chromedriver`), for
/// tests of pages in a real browser. No Selenium: the handful of endpoints used here are the whole protocol
/// these tests need.
///
/// `chromedriver` (Debian: `chromium-driver`) is found on `$PATH` or at `$SWITCHBOARD_CHROMEDRIVER`; the
/// browser tests skip without it unless `SWITCHBOARD_REQUIRE_BROWSER=1` (set by `.ci/run`).
public final class WebDriver: Sendable {
    public static let tool = ExternalTool(
        name: "chromedriver", pathVariable: "SWITCHBOARD_CHROMEDRIVER", requiredVariable: "SWITCHBOARD_REQUIRE_BROWSER",
        missingMessage: "chromedriver not found (apt-get install chromium chromium-driver, or set SWITCHBOARD_CHROMEDRIVER); browser tests skipped")

    private let process: ChildProcess
    let port: Int
    /// Sessions not yet closed: `stop()` closes them, since browsers outlive a chromedriver that is
    /// merely terminated.
    private let openSessions = NIOLockedValueBox<Set<String>>([])

    private init(process: ChildProcess, port: Int) {
        self.process = process
        self.port = port
    }

    /// Starts `chromedriver` on a free loopback port (it binds port 0 itself and prints the port).
    public static func start() async throws -> WebDriver {
        guard let executable = Self.tool.executable else { throw WebDriverError(Self.tool.missingMessage) }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("chromedriver-\(UUID().uuidString).log")
        let process = try ChildProcess(executable, ["--port=0", "--allowed-ips=127.0.0.1"], log: log)
        guard let port = try await process.waitForLog(#"started successfully on port (\d+)"#, timeout: .seconds(30)).flatMap(Int.init) else {
            process.stop()
            throw WebDriverError("chromedriver did not start: \(process.logTail())")
        }
        return WebDriver(process: process, port: port)
    }

    /// A new browser (its own profile, so its own storage and cookies) with a window of the given size.
    public func newSession(width: Int = 1280, height: Int = 800) async throws -> BrowserSession {
        var arguments = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                         "--window-size=\(width),\(height)", "--force-device-scale-factor=1", "--hide-scrollbars"]
        // Chromium's sandbox cannot start as root (CI containers); these tests only open our own pages.
        if getuid() == 0 { arguments.append("--no-sandbox") }
        var options: [String: Any] = ["args": arguments]
        if let binary = ProcessInfo.processInfo.environment["SWITCHBOARD_CHROMIUM"] { options["binary"] = binary }
        let capabilities: [String: Any] = ["capabilities": ["alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": options]]]
        let value = try await self.call("POST", "session", capabilities)
        guard let id = (value as? [String: Any])?["sessionId"] as? String else {
            throw WebDriverError("no session id in \(String(describing: value))")
        }
        self.openSessions.withLockedValue { _ = $0.insert(id) }
        return BrowserSession(driver: self, id: id)
    }

    /// Closes every browser this driver opened, then stops the driver.
    public func stop() async {
        let sessions = self.openSessions.withLockedValue { $0 }
        for id in sessions { await BrowserSession(driver: self, id: id).close() }
        self.process.stop()
    }

    func sessionClosed(_ id: String) {
        self.openSessions.withLockedValue { _ = $0.remove(id) }
    }

    /// One WebDriver command; returns the response's `value`, or throws the driver's error.
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) }
        let response = try await LoopbackHTTPRequest.send(method, port: self.port, path: "/\(path)", body: payload)
        let object = try JSONSerialization.jsonObject(with: response.body, options: [.fragmentsAllowed]) as? [String: Any]
        let value = object?["value"]
        if response.status >= 400 {
            let details = value as? [String: Any]
            let message = (details?["message"] as? String).map { $0.components(separatedBy: "\n").first ?? $0 }
            throw WebDriverError("\(method) \(path): \(details?["error"] as? String ?? "HTTP \(response.status)"): \(message ?? "")")
        }
        return value is NSNull ? nil : value
    }
}

/// One browser window. Scripts run in the page (`execute`); waits poll a condition in the page.
public struct BrowserSession: Sendable {
    let driver: WebDriver
    public let id: String

    public func open(_ url: String) async throws {
        _ = try await self.driver.call("POST", "session/\(self.id)/url", ["url": url])
    }

    /// Runs `script` as the body of an async function in the page (`return` gives the result, `await` works;
    /// `arguments[0]`… are `arguments`); the result comes back decoded from JSON.
    @discardableResult
    public func execute(_ script: String, _ arguments: [any Sendable] = []) async throws -> Any? {
        try await self.driver.call("POST", "session/\(self.id)/execute/sync", ["script": script, "args": arguments])
    }

    /// `execute` for a result of a known type.
    public func value<T>(_ script: String, _ arguments: [any Sendable] = [], as type: T.Type = T.self) async throws -> T {
        let result = try await self.execute(script, arguments)
        guard let typed = result as? T else { throw WebDriverError("expected \(T.self) from `\(script)`, got \(String(describing: result))") }
        return typed
    }

    /// Polls `condition` (an expression, true when done) until it holds; on timeout throws with what
    /// `describe` (an expression) says about the page then.
    public func waitUntil(_ condition: String, describe: String = "document.body.innerText.slice(-600)",
                          timeout: Duration = TestPatience.default, _ message: @autoclosure () -> String) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await self.execute("return Boolean(\(condition));")) as? Bool == true { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        let state = (try? await self.execute("return String(\(describe));")) as? String ?? "(page unreadable)"
        throw WebDriverError("\(message()) — waited \(timeout) for `\(condition)`; the page then: \(state)")
    }

    /// Types `text` into the element `selector` finds, as a user would (key events; "\n" presses Enter).
    public func type(_ text: String, into selector: String) async throws {
        let element = try await self.element(selector)
        let keys = text.replacingOccurrences(of: "\n", with: "\u{E007}")
        _ = try await self.driver.call("POST", "session/\(self.id)/element/\(element)/value", ["text": keys])
    }

    /// Clicks the element `selector` finds.
    public func click(_ selector: String) async throws {
        let element = try await self.element(selector)
        _ = try await self.driver.call("POST", "session/\(self.id)/element/\(element)/click", [:])
    }

    private func element(_ selector: String) async throws -> String {
        let found = try await self.driver.call("POST", "session/\(self.id)/element", ["using": "css selector", "value": selector])
        // W3C WebDriver §12.1: an element reference is an object under this fixed key.
        guard let id = (found as? [String: Any])?["element-6066-11e4-a52e-4f735466cecf"] as? String else {
            throw WebDriverError("no element for \(selector)")
        }
        return id
    }

    /// The window as a PNG.
    public func screenshot() async throws -> Data {
        guard let encoded = try await self.driver.call("GET", "session/\(self.id)/screenshot") as? String,
              let png = Data(base64Encoded: encoded) else {
            throw WebDriverError("the screenshot was not base64")
        }
        return png
    }

    /// Closes the browser.
    public func close() async {
        _ = try? await self.driver.call("DELETE", "session/\(self.id)")
        self.driver.sessionClosed(self.id)
    }
}

public struct WebDriverError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
