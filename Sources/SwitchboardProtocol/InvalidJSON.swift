/// Why bytes that Foundation's decoder refused as "not valid JSON" were refused, in words a client can act
/// on. Foundation gives one message for every syntax error, its nesting limit included.
public enum InvalidJSON {
    /// Foundation's JSONDecoder refuses deeper nesting than this.
    public static let maximumDepth = 512

    /// "nested deeper than 512 levels" when that is the reason, else "not valid JSON". Only for the error
    /// path: a linear scan that skips strings.
    public static func reason(_ bytes: some Collection<UInt8>) -> String {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > Self.maximumDepth { return "nested deeper than \(Self.maximumDepth) levels" }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return "not valid JSON"
    }
}
