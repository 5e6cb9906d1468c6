import Foundation
import SwitchboardTestSupport
import Testing

/// Every browser test, one at a time (each opens one or two Chromiums, a heavy load on two cores), and only
/// where chromedriver is, unless `SWITCHBOARD_REQUIRE_BROWSER=1` makes its absence a failure.
@Suite(.serialized, .enabled(if: WebDriver.tool.shouldRun, Comment(rawValue: WebDriver.tool.missingMessage)))
enum BrowserTests {}

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
