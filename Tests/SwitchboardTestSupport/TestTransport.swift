import NIOCore
import NIOPosix
import SwitchboardWebSocketNIO

/// What a test server runs its WebSocket connections on: the transport's and the node's end-to-end suites
/// run over both.
public enum TestTransport: String, CaseIterable, Sendable {
    case nio
    #if os(Linux)
    case epoll
    #endif

    public static var all: [TestTransport] { Self.allCases }

    public var group: any EventLoopGroup {
        switch self {
        case .nio: MultiThreadedEventLoopGroup.singleton
        #if os(Linux)
        case .epoll: Self.epollGroup
        #endif
        }
    }

    #if os(Linux)
    /// Shared by every test, like NIO's singleton group, and never shut down.
    static let epollGroup = try! EpollEventLoopGroup(numberOfThreads: 2)
    #endif
}
