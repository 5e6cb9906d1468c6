import SwitchboardProtocol
import Testing
@testable import SwitchboardClient

@Suite struct StreamCursorTests {
    func publication(_ offset: UInt64, _ epoch: String = "e1") -> Publication {
        Publication(channel: "feed:x", offset: offset, epoch: epoch, data: .integer(Int64(offset)))
    }

    @Test func dropsWhatWasAlreadyDelivered() {
        var cursor = StreamCursor()
        cursor.resume(at: StreamPosition(offset: 3, epoch: "e1"))
        #expect(cursor.accept(self.publication(3)) == .duplicate)
        #expect(cursor.accept(self.publication(4)) == .deliver)
        #expect(cursor.accept(self.publication(4)) == .duplicate)
        #expect(cursor.accept(self.publication(2)) == .duplicate)
        #expect(cursor.accept(self.publication(5)) == .deliver)
        #expect(cursor.last == StreamPosition(offset: 5, epoch: "e1"))
    }

    @Test func aNewEpochOrAHoleIsAGap() {
        var cursor = StreamCursor()
        #expect(cursor.accept(self.publication(7)) == .deliver)
        #expect(cursor.accept(self.publication(9)) == .deliverAfterGap(lastDelivered: StreamPosition(offset: 7, epoch: "e1")))
        #expect(cursor.accept(self.publication(1, "e2")) == .deliverAfterGap(lastDelivered: StreamPosition(offset: 9, epoch: "e1")))
        #expect(cursor.accept(self.publication(2, "e2")) == .deliver)
    }

    @Test func aSubscribeReplyNeverMovesTheCursorBack() {
        var cursor = StreamCursor()
        #expect(cursor.accept(self.publication(10)) == .deliver)
        cursor.resume(at: StreamPosition(offset: 8, epoch: "e1"))
        #expect(cursor.last == StreamPosition(offset: 10, epoch: "e1"))
        cursor.reset(to: StreamPosition(offset: 2, epoch: "e1"))
        #expect(cursor.accept(self.publication(3)) == .deliver)
    }
}
