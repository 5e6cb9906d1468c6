#if os(Linux)
import Glibc
import NIOCore

/// A listening socket that never accepts, with its accept queue already full: the kernel drops further
/// SYNs, so a connect to it stays unanswered until the connector gives up.
struct FullListener {
    let fd: Int32
    let port: Int
    private var fillers: [Int32] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, 0) == 0 else {
            let error = IOError(errnoCode: errno, reason: "bind/listen")
            Glibc.close(fd)
            throw error
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
        // Backlog 0 queues one connection; a few more make sure the queue is full.
        for _ in 0..<4 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            self.fillers.append(filler)
        }
    }

    func close() {
        for filler in self.fillers { Glibc.close(filler) }
        Glibc.close(self.fd)
    }
}
#endif
