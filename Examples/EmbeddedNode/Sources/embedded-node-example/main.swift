import EmbeddedNodeExample
import Foundation
import Logging
import ServiceLifecycle
import SwitchboardServer

// The shop's API on :8080, its Switchboard node on :8000; SIGTERM drains both. The HS256 secret is the one
// the shop's sign-in signs its users' tokens with.
//
//   SWITCHBOARD_HMAC_SECRETS=<secret> swift run embedded-node-example
//   curl -X POST localhost:8080/orders/alice -d '{"id":"A-17"}'     # alice's client gets {"order":"A-17",…}
let logger = Logger(label: "shop")
guard let secret = ProcessInfo.processInfo.environment["SWITCHBOARD_HMAC_SECRETS"] else {
    FileHandle.standardError.write(Data("set SWITCHBOARD_HMAC_SECRETS to the secret your users' tokens are signed with\n".utf8))
    exit(2)
}
var configuration = ServerConfiguration(host: "127.0.0.1", port: 8000)
configuration.auth.hmacSecrets = [secret]
let (_, services) = try await OrdersApp.services(node: configuration, httpPort: 8080, logger: logger)
try await ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
