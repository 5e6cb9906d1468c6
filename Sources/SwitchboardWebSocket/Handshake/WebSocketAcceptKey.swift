import Crypto

/// The `Sec-WebSocket-Accept` value proving that a server read a client's `Sec-WebSocket-Key`.
///
/// RFC 6455 §4.2.2: "concatenate this [the key] with the Globally Unique Identifier (GUID, [RFC4122])
/// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11" in string form ... A SHA-1 hash (160 bits) [FIPS.180-3],
/// base64-encoded (see Section 4 of [RFC4648]), of this concatenation is then returned in the server's
/// handshake." SHA-1 is used here as a fixed protocol transform, not for security.
public enum WebSocketAcceptKey {
    /// RFC 6455 §1.3: the GUID appended to the client's key.
    public static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// The accept value for `key`, used exactly as sent (after OWS trimming by the head parser).
    ///
    /// RFC 6455 §1.3 example: `"dGhlIHNhbXBsZSBub25jZQ=="` gives `"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="`.
    public static func accept(forKey key: String) -> String {
        var hasher = Insecure.SHA1()
        var input = Array(key.utf8)
        input.append(contentsOf: guid.utf8)
        input.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        let digest = hasher.finalize()
        return digest.withUnsafeBytes { Base64.encode($0) }
    }

    /// Whether `key` is a valid `Sec-WebSocket-Key`: RFC 6455 §4.1 "a randomly selected 16-byte value
    /// that has been base64-encoded", i.e. padded base64 decoding to exactly 16 bytes.
    public static func isValidKey(_ key: String) -> Bool {
        Base64.decode(key)?.count == 16
    }

    /// The `Sec-WebSocket-Key` for 16 random bytes chosen by the caller (the engine has no entropy
    /// source of its own). Returns nil unless `randomBytes` holds exactly 16 bytes.
    public static func key(randomBytes: [UInt8]) -> String? {
        guard randomBytes.count == 16 else { return nil }
        return Base64.encode(randomBytes)
    }
}
