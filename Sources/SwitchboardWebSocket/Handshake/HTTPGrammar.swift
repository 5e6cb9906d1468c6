/// Byte-level rules of HTTP/1.1 syntax (RFC 9110 §5.6, RFC 9112) shared by the head parser, the
/// header-list readers and the extension parser. Pure functions over bytes: no allocation, no Foundation.
enum HTTPGrammar {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let carriageReturn = UInt8(ascii: "\r")
    static let lineFeed = UInt8(ascii: "\n")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")

    /// RFC 9110 §5.6.2: `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
    /// "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA`.
    @inline(__always)
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// `token = 1*tchar`.
    static func isToken<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool {
        !bytes.isEmpty && bytes.allSatisfy(isTokenCharacter)
    }

    static func isToken(_ string: some StringProtocol) -> Bool {
        isToken(string.utf8)
    }

    /// RFC 9110 §5.5: `field-vchar = VCHAR / obs-text`, plus SP and HTAB inside a value.
    /// Everything else (CR, LF, NUL, other controls, DEL) is refused: RFC 9110 §5.5 lets a recipient
    /// "reject the message" when it sees CR, LF or NUL in a field value, and we do so for all controls.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// The elements of a comma-separated list spread over several field lines (RFC 9110 §5.6.1
    /// `#rule`), each trimmed of OWS. Empty elements are skipped, as RFC 9110 §5.6.1.2 requires of
    /// recipients ("a recipient MUST accept lists that contain empty list elements and ignore them").
    static func listElements(_ values: [String]) -> [Substring] {
        var elements: [Substring] = []
        for value in values {
            for element in value.split(separator: ",", omittingEmptySubsequences: false) {
                let trimmed = trimWhitespace(element)
                if !trimmed.isEmpty { elements.append(trimmed) }
            }
        }
        return elements
    }

    /// Whether the list `values` (see ``listElements(_:)``) has an element equal to `token`, compared
    /// ASCII case-insensitively — as RFC 9110 §7.8 and §7.6.1 require for `Upgrade` protocol names and
    /// `Connection` options.
    static func listContainsToken(_ values: [String], _ token: String) -> Bool {
        listElements(values).contains { asciiCaseInsensitiveEquals($0, token) }
    }

    static func trimWhitespace(_ text: Substring) -> Substring {
        let utf8 = text.utf8
        guard let first = utf8.firstIndex(where: { !isWhitespace($0) }) else { return text[text.endIndex...] }
        let last = utf8.lastIndex(where: { !isWhitespace($0) })!
        return Substring(utf8[first...last])
    }

    /// ASCII case-insensitive equality; non-ASCII bytes must match exactly.
    static func asciiCaseInsensitiveEquals(_ lhs: some StringProtocol, _ rhs: some StringProtocol) -> Bool {
        let left = lhs.utf8, right = rhs.utf8
        guard left.count == right.count else { return false }
        return zip(left, right).allSatisfy { asciiLowercased($0) == asciiLowercased($1) }
    }

    @inline(__always)
    static func asciiLowercased(_ byte: UInt8) -> UInt8 {
        (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
    }

    /// The standard reason phrase of the statuses this engine produces or commonly meets (RFC 9110 §15).
    static func reasonPhrase(for status: Int) -> String {
        switch status {
        case 101: return "Switching Protocols"
        case 200: return "OK"
        case 301: return "Moved Permanently"
        case 302: return "Found"
        case 307: return "Temporary Redirect"
        case 308: return "Permanent Redirect"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 410: return "Gone"
        case 426: return "Upgrade Required"
        case 429: return "Too Many Requests"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default:
            switch status {
            case 100..<200: return "Informational"
            case 200..<300: return "Success"
            case 300..<400: return "Redirection"
            case 400..<500: return "Client Error"
            default: return "Server Error"
            }
        }
    }
}
