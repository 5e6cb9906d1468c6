import ArgumentParser
import Logging
import NIOCore
import SwitchboardRedis
import SwitchboardServer

/// What `broker` in the configuration names: the embedded in-memory broker, or Redis (one address, or
/// several to shard channels across, by consistent hash). The executable chooses; the server only knows
/// the `Broker` protocol.
enum BrokerChoice {
    /// Nil for `memory`: the server's embedded default.
    static func make(_ specification: String, eventLoopGroup: any EventLoopGroup, logger: Logger) throws -> (any Broker)? {
        if specification == "memory" { return nil }
        guard specification.hasPrefix("redis://"), let addresses = RedisAddress.parseList(specification) else {
            throw ValidationError("broker must be 'memory' or redis://host:port[,host:port…], not '\(specification)'")
        }
        var brokerLogger = logger
        brokerLogger[metadataKey: "broker"] = "\(specification)"
        return RedisBroker(configuration: RedisBrokerConfiguration(addresses: addresses), eventLoopGroup: eventLoopGroup, logger: brokerLogger)
    }
}
