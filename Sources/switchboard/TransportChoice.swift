import ArgumentParser
import NIOCore
import NIOPosix
import SwitchboardWebSocketNIO

/// What a server command runs its WebSocket connections on (`--transport`).
enum TransportChoice: String, ExpressibleByArgument, CaseIterable {
    /// Epoll sockets (Linux): a connection is one small object beside its handler.
    case epoll
    /// NIO channels: any platform, and TLS.
    case nio

    /// Epoll on Linux unless TLS is on (the epoll transport has none); NIO otherwise.
    static func resolve(_ asked: TransportChoice?, tls: Bool) throws -> TransportChoice {
        #if os(Linux)
        if asked == .epoll && tls {
            throw ValidationError("--transport epoll has no TLS: terminate TLS in front of the server, or use --transport nio")
        }
        return asked ?? (tls ? .nio : .epoll)
        #else
        if asked == .epoll { throw ValidationError("--transport epoll needs Linux") }
        return .nio
        #endif
    }

    func makeGroup(threads: Int) throws -> any EventLoopGroup {
        switch self {
        case .nio:
            return MultiThreadedEventLoopGroup(numberOfThreads: threads)
        case .epoll:
            #if os(Linux)
            return try EpollEventLoopGroup(numberOfThreads: threads)
            #else
            throw ValidationError("--transport epoll needs Linux")
            #endif
        }
    }

    static let help = ArgumentHelp("epoll or nio: what WebSocket connections run on (default: epoll on Linux without TLS, a fraction of the memory per connection; nio otherwise).")
}
