#if os(Linux)
import CSwitchboardEpoll
import Glibc
import Logging
import NIOCore

/// A listening socket on one ``EpollEventLoop`` that deals the connections it accepts out to the loops of
/// its group in turn.
final class EpollListener: EpollWatcher, @unchecked Sendable {  // used on its loop only, after `bind`
    let fd: Int32
    let loop: EpollEventLoop
    let localAddress: SocketAddress
    private let group: EpollEventLoopGroup
    private let logger: Logger
    /// Runs on the loop the connection was dealt to, which owns the descriptor from then on.
    private let accepted: @Sendable (Int32, EpollEventLoop) -> Void
    private var closed = false

    /// Binds and listens on `host`:`port` and starts accepting; call on `loop`.
    init(host: String, port: Int, backlog: Int32, reusePort: Bool, loop: EpollEventLoop, group: EpollEventLoopGroup,
         logger: Logger, accepted: @escaping @Sendable (Int32, EpollEventLoop) -> Void) throws {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let fd = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        do {
            try Self.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if reusePort { try Self.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1) }
            let bound = address.withSockAddr { Glibc.bind(fd, $0, socklen_t($1)) }
            guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind(\(address))") }
            guard listen(fd, backlog) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
            self.localAddress = try SocketAddress.local(of: fd)
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.fd = fd
        self.loop = loop
        self.group = group
        self.logger = logger
        self.accepted = accepted
        do {
            try loop.register(fd, events: EPOLLIN.rawValue, watcher: self)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(IOError) {
        var value = value
        guard setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
            throw IOError(errnoCode: errno, reason: "setsockopt")
        }
    }

    func epollReady(_ events: UInt32) {
        // A bounded batch per turn: under a connect storm the loop's own connections still get their turn.
        for _ in 0..<256 where !self.closed {
            let fd = switchboard_accept4(self.fd, nil, nil, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
            if fd < 0 {
                switch errno {
                case EINTR, ECONNABORTED: continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: the pending connection stays in the backlog and level-triggered
                    // epoll would report it again at once. Look again in a moment.
                    self.logger.warning("Cannot accept a connection", metadata: ["error": "\(IOError(errnoCode: errno, reason: "accept4"))"])
                    self.pause(for: .milliseconds(100))
                    return
                default:
                    return  // EAGAIN: nothing left to accept
                }
            }
            let target = self.group.next() as! EpollEventLoop
            if target === self.loop {
                self.accepted(fd, target)
            } else {
                let accepted = self.accepted
                target.execute { accepted(fd, target) }
            }
        }
    }

    private func pause(for delay: TimeAmount) {
        self.loop.modify(self.fd, events: 0)
        self.loop.assumeIsolated().scheduleTask(in: delay) { [self] in
            if !self.closed { self.loop.modify(self.fd, events: EPOLLIN.rawValue) }
        }
    }

    /// Stops listening; call on the loop.
    func close() {
        guard !self.closed else { return }
        self.closed = true
        self.loop.deregister(self.fd)
        Glibc.close(self.fd)
    }
}
#endif
