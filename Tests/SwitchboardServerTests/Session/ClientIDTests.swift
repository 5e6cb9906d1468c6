import Testing
@testable import SwitchboardServer

/// Connection ids: 15 letters and digits (inline in a Swift string, safe in URLs), random, distinct.
@Suite struct ClientIDTests {
    @Test func idsAreFifteenLettersAndDigitsAndDistinct() {
        let ids = (0..<10_000).map { _ in ClientID.make() }
        #expect(ids.allSatisfy { $0.utf8.count == 15 && $0.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) } })
        #expect(Set(ids).count == ids.count)
        // Every character of the alphabet turns up: the ids are not drawn from a narrower set.
        #expect(Set(ids.joined()).count == 62)
    }
}
