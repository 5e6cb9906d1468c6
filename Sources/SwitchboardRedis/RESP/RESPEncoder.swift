import NIOCore

/// Writes ``RESPValue``s and commands in RESP3.
///
/// A command is always an array of bulk strings (what every Redis version accepts); the other types are
/// written for completeness and for tests, which encode values and decode them back.
public enum RESPEncoder {
    /// Writes a command, `*<n>\r\n` then each argument as a bulk string.
    public static func encodeCommand(_ arguments: [String], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(arguments.count))
        buffer.writeStaticString("\r\n")
        for argument in arguments {
            buffer.writeStaticString("$")
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    public static func encode(_ value: RESPValue, into buffer: inout ByteBuffer) {
        switch value {
        case .simpleString(let text):
            self.line("+", text, into: &buffer)
        case .error(let message):
            // A simple error cannot hold CR or LF; a bulk error can.
            if message.utf8.contains(where: { $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\n") }) {
                self.bulk("!", ByteBuffer(string: message), into: &buffer)
            } else {
                self.line("-", message, into: &buffer)
            }
        case .bulkString(let bytes):
            self.bulk("$", bytes, into: &buffer)
        case .verbatimString(let format, let text):
            self.bulk("=", ByteBuffer(string: "\(format):\(text)"), into: &buffer)
        case .integer(let value):
            self.line(":", String(value), into: &buffer)
        case .double(let value):
            let text: String
            if value.isNaN { text = "nan" } else if value == .infinity { text = "inf" } else if value == -.infinity { text = "-inf" } else { text = "\(value)" }
            self.line(",", text, into: &buffer)
        case .bigNumber(let digits):
            self.line("(", digits, into: &buffer)
        case .boolean(let value):
            self.line("#", value ? "t" : "f", into: &buffer)
        case .null:
            buffer.writeStaticString("_\r\n")
        case .array(let values):
            self.aggregate("*", values, into: &buffer)
        case .set(let values):
            self.aggregate("~", values, into: &buffer)
        case .push(let values):
            self.aggregate(">", values, into: &buffer)
        case .map(let pairs):
            self.line("%", String(pairs.count), into: &buffer)
            for pair in pairs {
                self.encode(pair.key, into: &buffer)
                self.encode(pair.value, into: &buffer)
            }
        }
    }

    private static func line(_ type: StaticString, _ text: String, into buffer: inout ByteBuffer) {
        buffer.writeStaticString(type)
        buffer.writeString(text)
        buffer.writeStaticString("\r\n")
    }

    private static func bulk(_ type: StaticString, _ bytes: ByteBuffer, into buffer: inout ByteBuffer) {
        self.line(type, String(bytes.readableBytes), into: &buffer)
        buffer.writeImmutableBuffer(bytes)
        buffer.writeStaticString("\r\n")
    }

    private static func aggregate(_ type: StaticString, _ values: [RESPValue], into buffer: inout ByteBuffer) {
        self.line(type, String(values.count), into: &buffer)
        for value in values { self.encode(value, into: &buffer) }
    }
}
