/// SplitMix64: a small seeded generator, so every "random" split replays exactly.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The ways every parser input is fed (STYLE rule 13): whole, byte by byte, and in random chunks.
enum Chunking {
    static func feedings(of bytes: [UInt8], seeds: ClosedRange<UInt64> = 1...20, maximumLength: Int = 16) -> [[[UInt8]]] {
        var result: [[[UInt8]]] = [[bytes], bytes.map { [$0] }]
        for seed in seeds {
            var generator = SeededGenerator(seed: seed)
            var pieces: [[UInt8]] = []
            var index = 0
            while index < bytes.count {
                let end = min(bytes.count, index + Int.random(in: 1...maximumLength, using: &generator))
                pieces.append(Array(bytes[index..<end]))
                index = end
            }
            result.append(pieces)
        }
        return result
    }
}
