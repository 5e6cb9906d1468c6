import ArgumentParser
import NIOCore
import NIOPosix
import SwitchboardWebSocketNIO

/// The event loops a server command runs its connections on: NIO's, or the epoll transport's.
enum EventLoopGroupChoice {
    static func make(epoll: Bool, threads: Int) throws -> any EventLoopGroup {
        guard epoll else { return MultiThreadedEventLoopGroup(numberOfThreads: threads) }
        #if os(Linux)
        return try EpollEventLoopGroup(numberOfThreads: threads)
        #else
        throw ValidationError("--epoll needs Linux")
        #endif
    }
}
