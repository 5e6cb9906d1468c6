import SwitchboardTestSupport
import Testing

/// Every scale-out scenario, one at a time: each starts Redis, three nodes (and nginx), which is as much
/// as two cores carry beside the rest of the test run.
@Suite(.serialized, .enabled(if: RedisServerProcess.tool.shouldRun, Comment(rawValue: RedisServerProcess.tool.missingMessage)))
enum ScaleOutTests {}
