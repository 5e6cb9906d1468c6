import Hummingbird
import NIOCore

/// The request context of the node's HTTP surface: Hummingbird's basics plus the channel, whose event loop
/// an SSE session runs on and whose peer address the connection limits count.
struct SwitchboardRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }

    /// Bodies are read with explicit limits per route (`LimitsConfiguration.maxHTTPBodySize`).
    var maxUploadSize: Int { 1 << 20 }

    var remoteIP: String? { self.channel.remoteAddress?.ipAddress }
}
