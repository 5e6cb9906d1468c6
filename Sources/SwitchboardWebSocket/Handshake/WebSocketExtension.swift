/// One element of a `Sec-WebSocket-Extensions` list: an extension name and its parameters, as a
/// client offers it or a server accepts it (RFC 6455 §9.1).
///
/// ```
/// extension-list = 1#extension
/// extension = extension-token *( ";" extension-param )
/// extension-param = token [ "=" (token | quoted-string) ]
///     ;When using the quoted-string syntax variant, the value
///     ;after quoted-string unescaping MUST conform to the
///     ;'token' ABNF.
/// ```
public struct WebSocketExtension: Sendable, Hashable, CustomStringConvertible {
    /// `extension-param`: a name and an optional value, the value already unquoted.
    public struct Parameter: Sendable, Hashable {
        /// The parameter name, a token, as sent.
        public var name: String
        /// The value without quotes, or nil for a parameter without `=`.
        public var value: String?

        public init(name: String, value: String? = nil) {
            self.name = name
            self.value = value
        }
    }

    /// The extension name, a token, as sent (e.g. `permessage-deflate`).
    public var name: String
    /// The parameters in the order sent; names may repeat, which extensions usually forbid.
    public var parameters: [Parameter]

    public init(name: String, parameters: [Parameter] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// Parses the values of every `Sec-WebSocket-Extensions` field line of a head, in order: RFC 6455
    /// §9.1 "[the header field] MAY appear multiple times in an HTTP request (which is logically the
    /// same as a single |Sec-WebSocket-Extensions| header field that contains all values)".
    ///
    /// Returns nil if any value breaks the grammar: a name or parameter that is not a token, a
    /// quoted value that is not a token once unescaped, an unterminated quoted-string, or a stray
    /// character. Empty list elements are skipped (RFC 9110 §5.6.1.2).
    public static func parse(headerValues: [String]) -> [WebSocketExtension]? {
        var extensions: [WebSocketExtension] = []
        for value in headerValues {
            var scanner = Scanner(Array(value.utf8))
            guard scanner.parseList(into: &extensions) else { return nil }
        }
        return extensions
    }

    /// The element as it is written in a header: `name; param; param=value`. A value that is not a
    /// token is written as a quoted-string.
    public var headerValue: String {
        var text = name
        for parameter in parameters {
            text += "; " + parameter.name
            if let value = parameter.value {
                text += "=" + (HTTPGrammar.isToken(value) ? value : Self.quoted(value))
            }
        }
        return text
    }

    /// A list as it is written in one `Sec-WebSocket-Extensions` header: elements joined by ", ".
    public static func headerValue(of extensions: [WebSocketExtension]) -> String {
        extensions.map(\.headerValue).joined(separator: ", ")
    }

    public var description: String { headerValue }

    private static func quoted(_ value: String) -> String {
        var text = "\""
        for character in value {
            if character == "\"" || character == "\\" { text.append("\\") }
            text.append(character)
        }
        return text + "\""
    }

    /// A cursor over the bytes of one field value.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }
        var current: UInt8? { atEnd ? nil : bytes[index] }

        mutating func skipWhitespace() {
            while let byte = current, HTTPGrammar.isWhitespace(byte) { index += 1 }
        }

        mutating func token() -> String? {
            let start = index
            while let byte = current, HTTPGrammar.isTokenCharacter(byte) { index += 1 }
            guard index > start else { return nil }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// RFC 9110 §5.6.4: `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE`, returning
        /// the unescaped content.
        mutating func quotedString() -> String? {
            guard current == UInt8(ascii: "\"") else { return nil }
            index += 1
            var content: [UInt8] = []
            while let byte = current {
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(decoding: content, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                    guard let escaped = current, HTTPGrammar.isFieldValueByte(escaped) else { return nil }
                    content.append(escaped)
                    index += 1
                default:
                    guard HTTPGrammar.isFieldValueByte(byte) else { return nil }
                    content.append(byte)
                }
            }
            return nil
        }

        /// `1#extension` within one field value.
        mutating func parseList(into extensions: inout [WebSocketExtension]) -> Bool {
            while true {
                skipWhitespace()
                guard let byte = current else { return true }
                if byte == HTTPGrammar.comma {
                    index += 1
                    continue
                }
                guard let element = parseExtension() else { return false }
                extensions.append(element)
                skipWhitespace()
                guard let separator = current else { return true }
                guard separator == HTTPGrammar.comma else { return false }
                index += 1
            }
        }

        /// `extension-token *( ";" extension-param )`, stopping before a comma or the end.
        mutating func parseExtension() -> WebSocketExtension? {
            guard let name = token() else { return nil }
            var element = WebSocketExtension(name: name)
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: ";") else { return element }
                index += 1
                skipWhitespace()
                guard let parameterName = token() else { return nil }
                skipWhitespace()
                var value: String?
                if current == UInt8(ascii: "=") {
                    index += 1
                    skipWhitespace()
                    if current == UInt8(ascii: "\"") {
                        guard let unquoted = quotedString(), HTTPGrammar.isToken(unquoted) else { return nil }
                        value = unquoted
                    } else {
                        guard let plain = token() else { return nil }
                        value = plain
                    }
                }
                element.parameters.append(Parameter(name: parameterName, value: value))
            }
        }
    }
}
