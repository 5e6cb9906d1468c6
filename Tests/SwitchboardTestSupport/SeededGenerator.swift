/// SplitMix64: a small seeded generator, so every "random" test replays exactly.
public struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { self.state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The ways every parser input is fed (STYLE rule 13): whole, byte by byte, and in random chunks.
public enum Chunking {
    /// Cuts `bytes` at random points into pieces of at most `maximumLength` (empty pieces when allowed).
    public static func randomSplits(_ bytes: [UInt8], maximumLength: Int, allowingEmpty: Bool = false,
                             using generator: inout SeededGenerator) -> [[UInt8]] {
        var pieces: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            let length = Int.random(in: (allowingEmpty ? 0 : 1)...max(1, maximumLength), using: &generator)
            let end = min(bytes.count, index + length)
            pieces.append(Array(bytes[index..<end]))
            index = end
        }
        return pieces
    }

    /// Whole, byte by byte, then one random split per seed.
    public static func feedings(of bytes: [UInt8], seeds: ClosedRange<UInt64>, maximumLength: Int = 40,
                         allowingEmpty: Bool = false) -> [[[UInt8]]] {
        var result: [[[UInt8]]] = [[bytes], bytes.map { [$0] }]
        for seed in seeds {
            var generator = SeededGenerator(seed: seed)
            result.append(randomSplits(bytes, maximumLength: maximumLength, allowingEmpty: allowingEmpty, using: &generator))
        }
        return result
    }
}
