import Foundation
import SwitchboardTestSupport
import Testing

/// Runs `body` with a chromedriver of its own; without one, records a failure (the suites that call this are
/// only enabled without chromedriver when `SWITCHBOARD_REQUIRE_BROWSER=1`).
func withBrowser(_ body: (WebDriver) async throws -> Void) async throws {
    guard WebDriver.tool.executable != nil else {
        Issue.record(Comment(rawValue: WebDriver.tool.requiredButMissing))
        return
    }
    let driver = try await WebDriver.start()
    do {
        try await body(driver)
    } catch {
        await driver.stop()
        throw error
    }
    await driver.stop()
}
