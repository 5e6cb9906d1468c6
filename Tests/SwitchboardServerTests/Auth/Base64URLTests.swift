import Testing
@testable import SwitchboardServer

@Suite struct Base64URLTests {
    /// RFC 4648 §10 vectors, in the URL alphabet without padding.
    @Test func decodesTheRFCVectors() {
        let vectors = ["": "", "Zg": "f", "Zm8": "fo", "Zm9v": "foo", "Zm9vYg": "foob", "Zm9vYmE": "fooba", "Zm9vYmFy": "foobar"]
        for (encoded, decoded) in vectors {
            #expect(Base64URL.decode(encoded) == Array(decoded.utf8), "\(encoded)")
        }
        #expect(Base64URL.decode("-_8") == [0xFB, 0xFF])
    }

    /// One spelling per byte string: padding, the standard alphabet, impossible lengths and stray low bits fail.
    @Test func refusesNonCanonicalInput() {
        for text in ["Zg==", "Zm8=", "+/8", "Z", "Zm9vY", "Zh", "Zm9", "Zm 9v", "Zm9v\n"] {
            #expect(Base64URL.decode(text) == nil, "\(text)")
        }
    }

    /// The same vectors the other way, and every byte value through a round trip.
    @Test func encodesTheRFCVectorsAndRoundTrips() {
        let vectors = ["": "", "Zg": "f", "Zm8": "fo", "Zm9v": "foo", "Zm9vYg": "foob", "Zm9vYmE": "fooba", "Zm9vYmFy": "foobar"]
        for (encoded, decoded) in vectors {
            #expect(Base64URL.encode(Array(decoded.utf8)) == encoded, "\(decoded)")
        }
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        for length in 0...7 {
            let bytes = (0..<256).map { UInt8(($0 * 7 + length) & 0xFF) } + Array(repeating: 0xFF, count: length)
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }

    @Test func developmentSecretsAre256RandomBits() {
        let first = AuthConfiguration.generateDevelopmentSecret()
        #expect(Base64URL.decode(first)?.count == 32)
        #expect(first != AuthConfiguration.generateDevelopmentSecret())
    }
}
