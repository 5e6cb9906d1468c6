#if os(Linux)
import CSwitchboardEpoll
import Glibc
import NIOCore

/// One outgoing TCP connect on an ``EpollEventLoop``: a non-blocking `connect`, then the descriptor's first
/// writability (or error) tells how it ended. Succeeds with the connected descriptor, which the caller owns;
/// fails, with the descriptor closed, on an error or when `timeout` passes first.
final class EpollConnector: EpollWatcher, @unchecked Sendable {  // used on its loop only
    private let fd: Int32
    private unowned let loop: EpollEventLoop
    private let promise: EventLoopPromise<Int32>
    private var timeout: Scheduled<Void>?
    private var finished = false

    /// Starts connecting to `address` (from `localAddress`, when given); call on `loop`.
    static func connect(to address: SocketAddress, from localAddress: SocketAddress?, timeout: TimeAmount,
                        on loop: EpollEventLoop) -> EventLoopFuture<Int32> {
        let promise = loop.makePromise(of: Int32.self)
        let fd = socket(Int32(address.protocol.rawValue), Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            promise.fail(IOError(errnoCode: errno, reason: "socket"))
            return promise.futureResult
        }
        do throws(IOError) {
            try EpollListener.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            if let localAddress {
                let bound = localAddress.withSockAddr { Glibc.bind(fd, $0, socklen_t($1)) }
                guard bound == 0 else { throw IOError(errnoCode: errno, reason: "bind(\(localAddress))") }
            }
            var result: Int32
            repeat {
                result = address.withSockAddr { Glibc.connect(fd, $0, socklen_t($1)) }
            } while result != 0 && errno == EINTR
            if result == 0 {
                promise.succeed(fd)  // loopback can connect at once
                return promise.futureResult
            }
            guard errno == EINPROGRESS else { throw IOError(errnoCode: errno, reason: "connect") }
            let connector = EpollConnector(fd: fd, loop: loop, promise: promise)
            try loop.register(fd, events: EPOLLOUT.rawValue, watcher: connector)
            connector.timeout = loop.assumeIsolated().scheduleTask(in: timeout) { [unowned connector] in
                connector.fail(ChannelError.connectTimeout(timeout))
            }
        } catch {
            Glibc.close(fd)
            promise.fail(error)
        }
        return promise.futureResult
    }

    private init(fd: Int32, loop: EpollEventLoop, promise: EventLoopPromise<Int32>) {
        self.fd = fd
        self.loop = loop
        self.promise = promise
    }

    func epollReady(_ events: UInt32) {
        guard !self.finished else { return }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(self.fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 {
            error = errno
        } else if error == 0 && events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 && events & EPOLLOUT.rawValue == 0 {
            error = ECONNABORTED  // the loop is shutting down
        }
        guard error == 0 else {
            return self.fail(IOError(errnoCode: error, reason: "connect"))
        }
        self.finished = true
        self.timeout?.cancel()
        self.loop.deregister(self.fd)
        self.promise.succeed(self.fd)
    }

    private func fail(_ error: any Error) {
        guard !self.finished else { return }
        self.finished = true
        self.timeout?.cancel()
        self.loop.deregister(self.fd)
        Glibc.close(self.fd)
        self.promise.fail(error)
    }
}
#endif
