import NIOCore

/// How big a buffer each socket read gets: adaptive like NIO's own allocator (twice as big after a read that
/// filled its buffer, half as big after two in a row that used at most half of it, within the bounds), in
/// 16 bytes. NIO keeps a channel's allocator in an existential whose inline room is 24 bytes; its adaptive
/// allocator is larger and lives in a box of its own, 64 bytes on every connection.
struct CompactRecvAllocator: RecvByteBufferAllocator {
    private let minimum: UInt32
    private let maximum: UInt32
    private var next: UInt32
    /// The last read used at most half: the next one like it shrinks the buffer.
    private var shrinkNext = false

    /// What every connection starts with, client or server: NIO keeps a channel's last read buffer for
    /// reuse, so its size is memory each idle connection holds. An upgrade request or reply fits in a read
    /// or two of 512 bytes; connections that stream grow theirs quickly.
    static let connection = CompactRecvAllocator(minimum: 64, initial: 512, maximum: 65536)

    init(minimum: Int, initial: Int, maximum: Int) {
        precondition(0 < minimum && minimum <= initial && initial <= maximum && maximum <= Int(UInt32.max),
                     "receive buffer sizes must satisfy 0 < minimum <= initial <= maximum")
        self.minimum = UInt32(minimum)
        self.maximum = UInt32(maximum)
        self.next = UInt32(initial)
    }

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(capacity: Int(self.next))
    }

    func nextBufferSize() -> Int? {
        Int(self.next)
    }

    mutating func record(actualReadBytes: Int) -> Bool {
        if actualReadBytes >= Int(self.next) {
            self.shrinkNext = false
            let grown = UInt32(min(Int(self.next) * 2, Int(self.maximum)))
            defer { self.next = grown }
            return grown > self.next
        }
        guard actualReadBytes <= Int(self.next) / 2, self.next > self.minimum else {
            self.shrinkNext = false
            return false
        }
        if self.shrinkNext {
            self.next = max(self.next / 2, self.minimum)
            self.shrinkNext = false
        } else {
            self.shrinkNext = true
        }
        return false
    }
}
