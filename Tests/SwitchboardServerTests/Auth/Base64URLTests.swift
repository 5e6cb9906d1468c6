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
}
