#if os(Linux)
import CSwitchboardEpoll
import Dispatch
import Glibc
import NIOConcurrencyHelpers
import NIOCore

/// Told by an ``EpollEventLoop``, on its thread, that a descriptor it watches is ready.
protocol EpollWatcher: AnyObject {
    func epollReady(_ events: UInt32)
}

/// An event loop on one thread of its own, over epoll, for the epoll transport's sockets.
///
/// SwiftNIO's loops run NIO channels only; this one runs sockets that are one small object each (see
/// ``EpollEventLoopGroup``), and is a NIO `EventLoop` like any other: futures, promises, `execute`,
/// `scheduleTask` and everything above them work on it unchanged. Tasks queued from other threads wake it
/// through an eventfd; timers are a heap of deadlines that sets the epoll timeout.
public final class EpollEventLoop: EventLoop, @unchecked Sendable {
    private struct Shared {
        var tasks: [() -> Void] = []
        var timers = EpollTimerHeap()
        var nextSequence: UInt64 = 0
        /// The eventfd was written (or the loop is awake): another wakeup would be wasted.
        var wakeupPending = false
        var stopping = false
        var stopped = false
        var shutdownCallbacks: [(DispatchQueue, @Sendable ((any Error)?) -> Void)] = []
    }

    private struct Watch {
        let watcher: any EpollWatcher
        /// Tells a stale event for a descriptor number already reused apart from one for the new socket.
        let generation: UInt32
    }

    private let lock = NIOLock()
    private var shared = Shared()  // guarded by `lock`
    private let epollFD: Int32
    private let wakeFD: Int32
    private let name: String
    private var loopThread = pthread_t()
    private let started = DispatchSemaphore(value: 0)
    /// Handed out by every `makeSucceededVoidFuture()`, as NIO's own loops do: code that keeps one per
    /// connection (a session's command chain) would otherwise hold an allocation each.
    private var succeededVoid: EventLoopFuture<Void>?

    // The loop thread's own state.
    private var runningTasks: [() -> Void] = []
    private var watches: [Watch?] = []
    private var nextGeneration: UInt32 = 0

    /// One read buffer for every socket of the loop: a read lands here and is copied out at its exact
    /// size, so an idle connection holds no receive buffer and what an application keeps of a read (a
    /// publication's bytes) holds no more memory than those bytes.
    let readScratch: UnsafeMutableRawBufferPointer

    private static let wakeToken = UInt64.max

    init(name: String) throws {
        self.name = name
        let epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw IOError(errnoCode: errno, reason: "epoll_create1") }
        let wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            let code = errno
            Glibc.close(epollFD)
            throw IOError(errnoCode: code, reason: "eventfd")
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeToken
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            let code = errno
            Glibc.close(wakeFD)
            Glibc.close(epollFD)
            throw IOError(errnoCode: code, reason: "epoll_ctl")
        }
        self.epollFD = epollFD
        self.wakeFD = wakeFD
        self.readScratch = .allocate(byteCount: 256 << 10, alignment: 16)
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            let loop = Unmanaged<EpollEventLoop>.fromOpaque(argument!).takeRetainedValue()
            loop.run()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        guard created == 0 else {
            Glibc.close(wakeFD)
            Glibc.close(epollFD)
            throw IOError(errnoCode: created, reason: "pthread_create")
        }
        pthread_detach(thread)
        self.started.wait()
    }

    deinit {
        self.readScratch.deallocate()
    }

    // MARK: - EventLoop

    public var inEventLoop: Bool { pthread_equal(pthread_self(), self.loopThread) != 0 }

    public func execute(_ task: @escaping @Sendable () -> Void) {
        self.enqueue(task)
    }

    private func enqueue(_ task: @escaping () -> Void) {
        let onLoop = self.inEventLoop
        let wake = self.lock.withLock { () -> Bool in
            guard !self.shared.stopped else { return false }
            self.shared.tasks.append(task)
            // On the loop, the queue is looked at before the loop sleeps again.
            guard !onLoop, !self.shared.wakeupPending else { return false }
            self.shared.wakeupPending = true
            return true
        }
        if wake { self.wake() }
    }

    public func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise = self.makePromise(of: T.self)
        let onLoop = self.inEventLoop
        let (timer, wake, stopped) = self.lock.withLock { () -> (EpollTimer, Bool, Bool) in
            let timer = EpollTimer(deadline: deadline.uptimeNanoseconds, sequence: self.shared.nextSequence,
                                   // Runs on the loop, where the promise's value may be handed over as it is.
                                   run: {
                                       do { promise.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch { promise.fail(error) }
                                   },
                                   fail: { promise.fail($0) })
            self.shared.nextSequence &+= 1
            guard !self.shared.stopped else { return (timer, false, true) }
            self.shared.timers.insert(timer)
            // Only an earlier deadline than the one the loop sleeps towards needs a wakeup.
            guard !onLoop, self.shared.timers.earliest === timer, !self.shared.wakeupPending else { return (timer, false, false) }
            self.shared.wakeupPending = true
            return (timer, true, false)
        }
        if stopped { promise.fail(EventLoopError.shutdown) }
        if wake { self.wake() }
        return Scheduled(promise: promise, cancellationTask: { self.cancel(timer) })
    }

    public func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        self.scheduleTask(deadline: .now() + delay, task)
    }

    private func cancel(_ timer: EpollTimer) {
        let cancelled = self.lock.withLock { () -> Bool in
            guard timer.state == .pending else { return false }
            timer.state = .cancelled
            self.shared.timers.noteCancelled()
            return true
        }
        if cancelled { timer.fail(EventLoopError.cancelled) }
    }

    public func makeSucceededVoidFuture() -> EventLoopFuture<Void> {
        // Set by the loop's thread before `init` returns. (NIO's `makeSucceededFuture(())` calls this.)
        self.succeededVoid!
    }

    public func preconditionInEventLoop(file: StaticString, line: UInt) {
        precondition(self.inEventLoop, "not on \(self.name)", file: file, line: line)
    }

    public func preconditionNotInEventLoop(file: StaticString, line: UInt) {
        precondition(!self.inEventLoop, "on \(self.name)", file: file, line: line)
    }

    // MARK: - EventLoopGroup

    public func next() -> any EventLoop { self }
    public func any() -> any EventLoop { self }
    public func makeIterator() -> EventLoopIterator { EventLoopIterator([self]) }

    /// Stops the loop once the tasks queued so far have run; pending timers fail with `EventLoopError.shutdown`,
    /// and sockets still registered are told their descriptor hung up.
    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        let (alreadyStopped, wake) = self.lock.withLock { () -> (Bool, Bool) in
            if self.shared.stopped { return (true, false) }
            self.shared.shutdownCallbacks.append((queue, callback))
            self.shared.stopping = true
            defer { self.shared.wakeupPending = true }
            return (false, !self.shared.wakeupPending)
        }
        if alreadyStopped {
            queue.async { callback(EventLoopError.shutdown) }
            return
        }
        if wake { self.wake() }
    }

    public var description: String { "EpollEventLoop(\(self.name))" }

    // MARK: - Descriptors (on the loop)

    /// Starts watching `fd` for `events` (`EPOLLIN`, `EPOLLOUT`; level-triggered).
    func register(_ fd: Int32, events: UInt32, watcher: any EpollWatcher) throws(IOError) {
        let index = Int(fd)
        if index >= self.watches.count {
            self.watches.append(contentsOf: repeatElement(nil, count: max(index + 1, self.watches.count * 2) - self.watches.count))
        }
        self.nextGeneration &+= 1
        self.watches[index] = Watch(watcher: watcher, generation: self.nextGeneration)
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt32(bitPattern: fd)) | UInt64(self.nextGeneration) << 32
        guard epoll_ctl(self.epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            self.watches[index] = nil
            throw IOError(errnoCode: errno, reason: "epoll_ctl(ADD)")
        }
    }

    /// Changes the events `fd` is watched for.
    func modify(_ fd: Int32, events: UInt32) {
        guard let watch = self.watches[Int(fd)] else { return }
        var event = epoll_event()
        event.events = events
        event.data.u64 = UInt64(UInt32(bitPattern: fd)) | UInt64(watch.generation) << 32
        _ = epoll_ctl(self.epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Stops watching `fd`; call before closing it.
    func deregister(_ fd: Int32) {
        guard Int(fd) < self.watches.count, self.watches[Int(fd)] != nil else { return }
        self.watches[Int(fd)] = nil
        var event = epoll_event()
        _ = epoll_ctl(self.epollFD, EPOLL_CTL_DEL, fd, &event)
    }

    // MARK: - The loop

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(self.wakeFD, &one, 8)
    }

    private func run() {
        self.loopThread = pthread_self()
        _ = switchboard_pthread_setname_np(pthread_self(), String(self.name.prefix(15)))
        // Succeeded here, on the loop, so that it is complete before anyone has it.
        let succeeded = self.makePromise(of: Void.self)
        succeeded.succeed(())
        self.succeededVoid = succeeded.futureResult
        self.started.signal()
        var events = [epoll_event](repeating: epoll_event(), count: 512)
        while true {
            self.runDueTimers()
            self.runTasks()
            let (timeout, stop) = self.lock.withLock { () -> (Int32, Bool) in
                if self.shared.stopping && self.shared.tasks.isEmpty { return (0, true) }
                if !self.shared.tasks.isEmpty { return (0, false) }
                self.shared.wakeupPending = false
                guard let deadline = self.shared.timers.nextDeadline() else { return (-1, false) }
                let now = NIODeadline.now().uptimeNanoseconds
                guard deadline > now else { return (0, false) }
                // Rounded up: woken a little late rather than early (an early wakeup would find nothing due).
                return (Int32(clamping: (deadline - now + 999_999) / 1_000_000), false)
            }
            if stop { break }
            let count = events.withUnsafeMutableBufferPointer { buffer in
                epoll_wait(self.epollFD, buffer.baseAddress, Int32(buffer.count), timeout)
            }
            guard count >= 0 else {
                precondition(errno == EINTR, "epoll_wait failed: \(IOError(errnoCode: errno, reason: "epoll_wait"))")
                continue
            }
            for index in 0..<Int(count) {
                let token = events[index].data.u64
                if token == Self.wakeToken {
                    var value: UInt64 = 0
                    _ = Glibc.read(self.wakeFD, &value, 8)
                    continue
                }
                let fd = Int(UInt32(truncatingIfNeeded: token))
                guard fd < self.watches.count, let watch = self.watches[fd], watch.generation == UInt32(token >> 32) else { continue }
                watch.watcher.epollReady(events[index].events)
            }
        }
        self.finishShutdown()
    }

    private func runDueTimers() {
        let now = NIODeadline.now().uptimeNanoseconds
        while let timer = self.lock.withLock({ () -> EpollTimer? in
            let timer = self.shared.timers.popDue(now: now)
            timer?.state = .fired
            return timer
        }) {
            timer.run()
        }
    }

    private func runTasks() {
        self.lock.withLock { swap(&self.shared.tasks, &self.runningTasks) }
        guard !self.runningTasks.isEmpty else { return }
        for task in self.runningTasks { task() }
        // Keeps the storage for the next turn (both arrays swap back and forth), unless a burst grew it.
        self.runningTasks.removeAll(keepingCapacity: self.runningTasks.count <= 4096)
    }

    private func finishShutdown() {
        for watch in self.watches {
            watch?.watcher.epollReady(EPOLLHUP.rawValue)
        }
        self.watches.removeAll()
        self.runTasks()
        let (timers, callbacks) = self.lock.withLock { () -> ([EpollTimer], [(DispatchQueue, @Sendable ((any Error)?) -> Void)]) in
            self.shared.stopped = true
            let timers = self.shared.timers.removeAllPending()
            for timer in timers { timer.state = .cancelled }
            defer { self.shared.shutdownCallbacks.removeAll() }
            return (timers, self.shared.shutdownCallbacks)
        }
        for timer in timers { timer.fail(EventLoopError.shutdown) }
        self.runTasks()  // what failing the timers' promises queued
        Glibc.close(self.wakeFD)
        Glibc.close(self.epollFD)
        for (queue, callback) in callbacks { queue.async { callback(nil) } }
    }
}

/// Event loops for the epoll transport: one thread each.
///
/// Pass it to ``WebSocketServer`` as its event loop group and the server runs its connections on epoll
/// sockets instead of NIO channels: a connection is then one socket object beside its WebSocket handler,
/// a fraction of a NIO channel's memory. Linux only; without TLS.
public final class EpollEventLoopGroup: EventLoopGroup, Sendable {
    public let loops: [EpollEventLoop]
    private let counter = NIOLockedValueBox(0)

    public init(numberOfThreads: Int) throws {
        precondition(numberOfThreads > 0, "an event loop group needs at least one thread")
        self.loops = try (0..<numberOfThreads).map { try EpollEventLoop(name: "sb-epoll-\($0)") }
    }

    public func next() -> any EventLoop {
        let index = self.counter.withLockedValue { counter in
            defer { counter &+= 1 }
            return counter
        }
        return self.loops[index % self.loops.count]
    }

    public func any() -> any EventLoop {
        self.loops.first { $0.inEventLoop } ?? self.next()
    }

    public func makeIterator() -> EventLoopIterator { EventLoopIterator(self.loops) }

    public func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable ((any Error)?) -> Void) {
        let group = DispatchGroup()
        for loop in self.loops {
            group.enter()
            loop.shutdownGracefully(queue: queue) { _ in group.leave() }
        }
        group.notify(queue: queue) { callback(nil) }
    }
}
#endif
