import SwitchboardTestSupport
import Testing
@testable import SwitchboardWebSocket

@Suite struct HandshakeAcceptKeyTests {
    /// RFC 6455 §1.3: "dGhlIHNhbXBsZSBub25jZQ==" gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
    @Test func rfcSampleKey() {
        #expect(WebSocketAcceptKey.accept(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    /// RFC 4648 §10 test vectors.
    @Test(arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func base64Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func base64RoundTripsEveryByteValue() {
        var generator = SeededGenerator(seed: 42)
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        let all = (0...255).map { UInt8($0) }
        #expect(Base64.decode(Base64.encode(all)) == all)
    }

    @Test(arguments: ["Zg", "Zg=", "Z===", "Zm9v!", "Zm 9v", "=Zm9", "Zg==Zg==", "Zm9v\n", "Z=g="])
    func base64RejectsMalformedText(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func keyValidity() {
        #expect(WebSocketAcceptKey.isValidKey("dGhlIHNhbXBsZSBub25jZQ=="))
        #expect(!WebSocketAcceptKey.isValidKey("dGhlIHNhbXBsZSBub25jZQ"))           // unpadded
        #expect(!WebSocketAcceptKey.isValidKey("dGhlIHNhbXBsZSBub25jZXg="))         // 17 bytes
        #expect(!WebSocketAcceptKey.isValidKey("dGhlIHNhbXBsZSBub25j"))             // 15 bytes
        #expect(!WebSocketAcceptKey.isValidKey(""))
        #expect(WebSocketAcceptKey.key(randomBytes: Array(repeating: 0, count: 15)) == nil)
        let key = WebSocketAcceptKey.key(randomBytes: Array("the sample nonce".utf8))
        #expect(key == "dGhlIHNhbXBsZSBub25jZQ==")
    }
}
