import SwitchboardProtocol
import SwitchboardTestSupport
import Testing
@testable import SwitchboardServer

/// The session's subscriptions, one inline, a few in an array or many in a dictionary: it behaves as the
/// dictionary would, across every change of storage.
@Suite struct SubscriptionMapTests {
    private static func position(_ subscription: Subscription?) -> UInt64? {
        guard case .live(let position)? = subscription else { return nil }
        return position.offset
    }

    @Test func itAgreesWithADictionaryThroughRandomChanges() {
        var generator = SeededGenerator(seed: 5)
        // More names than the array holds, so maps grow into a dictionary and shrink back.
        let channels = (0..<(SubscriptionMap.arrayLimit + 3)).map { "c\($0)" }
        for _ in 0..<300 {
            var map = SubscriptionMap()
            var model: [String: UInt64] = [:]
            for step in 0..<60 {
                let channel = channels.randomElement(using: &generator)!
                switch Int.random(in: 0..<5, using: &generator) {
                case 0, 4:
                    map[channel] = .live(position: StreamPosition(offset: UInt64(step), epoch: "e"))
                    model[channel] = UInt64(step)
                case 1:
                    #expect(Self.position(map.removeValue(forKey: channel)) == model.removeValue(forKey: channel))
                case 2:
                    let updated = map.update(channel) { subscription -> Bool in
                        subscription = .live(position: StreamPosition(offset: 1000 + UInt64(step), epoch: "e"))
                        return true
                    }
                    #expect((updated ?? false) == (model[channel] != nil))
                    if model[channel] != nil { model[channel] = 1000 + UInt64(step) }
                default:
                    map[channel] = nil
                    model[channel] = nil
                }
                #expect(map.count == model.count)
                #expect(Set(map.keys) == Set(model.keys))
                for name in channels { #expect(Self.position(map[name]) == model[name]) }
                #expect(Dictionary(uniqueKeysWithValues: map.map { ($0.key, Self.position($0.value)!) }) == model)
            }
        }
    }
}
