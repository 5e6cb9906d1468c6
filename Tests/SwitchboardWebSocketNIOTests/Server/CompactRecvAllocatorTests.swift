import NIOCore
import Testing
@testable import SwitchboardWebSocketNIO

/// The receive-buffer sizing: grows after full reads, shrinks after two small ones in a row, stays within its
/// bounds, and is small enough to sit inline in NIO's existential (no box per connection).
@Suite struct CompactRecvAllocatorTests {
    @Test func itGrowsAfterFullReadsAndShrinksAfterTwoSmallOnes() {
        var allocator = CompactRecvAllocator(minimum: 64, initial: 512, maximum: 2048)
        func record(_ bytes: Int) -> Bool { allocator.record(actualReadBytes: bytes) }
        #expect(allocator.nextBufferSize() == 512)
        #expect(record(512))
        #expect(allocator.nextBufferSize() == 1024)
        #expect(record(1024))
        #expect(allocator.nextBufferSize() == 2048)
        #expect(!record(2048))  // at the maximum
        #expect(allocator.nextBufferSize() == 2048)
        #expect(!record(100))
        #expect(allocator.nextBufferSize() == 2048)  // one small read is not enough
        #expect(!record(100))
        #expect(allocator.nextBufferSize() == 1024)
        #expect(!record(900))  // more than half: the streak ends
        #expect(!record(10))
        #expect(allocator.nextBufferSize() == 1024)
        for _ in 0..<20 { _ = allocator.record(actualReadBytes: 1) }
        #expect(allocator.nextBufferSize() == 64)  // never below the minimum
        #expect(allocator.buffer(allocator: ByteBufferAllocator()).capacity >= 64)
    }

    @Test func itFitsInlineInAnExistential() {
        #expect(MemoryLayout<CompactRecvAllocator>.size <= 3 * MemoryLayout<Int>.size)
    }
}
