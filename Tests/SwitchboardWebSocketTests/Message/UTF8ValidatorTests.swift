import Testing
@testable import SwitchboardWebSocket

@Suite struct UTF8ValidatorTests {
    func validate(_ bytes: [UInt8]) -> (valid: Bool, complete: Bool) {
        var validator = UTF8Validator()
        let valid = bytes.withUnsafeBytes { validator.validate($0) }
        return (valid, validator.isComplete)
    }

    @Test func agreesWithTheStandardLibraryOnEveryTwoAndThreeByteSequence() {
        // Exhaustive over lead bytes and a representative set of continuations.
        let probes: [UInt8] = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
                               0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF]
        for a in 0...255 {
            for b in probes {
                for c in probes {
                    for d in [UInt8(0x80), 0xBF, 0x41] {
                        let bytes = [UInt8(a), b, c, d]
                        let reference = String(validating: bytes, as: UTF8.self) != nil
                        let ours = validate(bytes)
                        #expect((ours.valid && ours.complete) == reference, "\(bytes)")
                    }
                }
            }
        }
    }

    /// The validator must stop at the first byte that cannot continue: the failing index is the
    /// shortest prefix that no valid continuation can save.
    @Test(arguments: [
        ([0xF4, 0x90], 2),          // above U+10FFFF, known at the 2nd byte
        ([0xED, 0xA0], 2),          // surrogate
        ([0xE0, 0x80], 2),          // overlong
        ([0xC0], 1), ([0xC1], 1), ([0xF5], 1), ([0xFF], 1), ([0x80], 1),
        ([0x41, 0x42, 0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xF4, 0x90, 0x80, 0x80], 15),
    ] as [([UInt8], Int)])
    func failsAtTheFirstBadByte(bytes: [UInt8], failingLength: Int) {
        for prefix in 0..<failingLength {
            #expect(validate(Array(bytes[..<prefix])).valid, "prefix \(prefix) should still be valid")
        }
        #expect(!validate(Array(bytes[..<failingLength])).valid)
    }

    @Test func incrementalFeedingMatchesWhole() {
        let text = Array("ASCII then κόσμε then 𝄞 music and 中文 and more ASCII to cross eight-byte words".utf8)
        for split in 0...text.count {
            var validator = UTF8Validator()
            let first = text[..<split].withUnsafeBytes { validator.validate($0) }
            let second = text[split...].withUnsafeBytes { validator.validate($0) }
            #expect(first && second && validator.isComplete)
        }
    }
}
