import NIOCore

/// Serializes request and response heads (RFC 9112 §3, §4, §5) into a `ByteBuffer`.
///
/// Header-injection defence: a CR, LF or NUL inside a method, target, reason phrase, field name or
/// field value is written as SP (RFC 9110 §5.5 offers exactly this replacement to recipients), so a
/// caller-supplied value can never end a line or start a new field.
enum HandshakeHeadWriter {
    static func writeRequest(_ request: HandshakeRequest, into buffer: inout ByteBuffer) {
        writeSanitized(request.method, into: &buffer)
        buffer.writeInteger(HTTPGrammar.space)
        writeSanitized(request.target, into: &buffer)
        buffer.writeString(" HTTP/\(request.versionMajor).\(request.versionMinor)\r\n")
        writeFields(request.headers, into: &buffer)
    }

    static func writeResponse(_ response: HandshakeResponse, into buffer: inout ByteBuffer) {
        buffer.writeString("HTTP/1.1 \(response.status) ")
        writeSanitized(response.reason, into: &buffer)
        buffer.writeString("\r\n")
        writeFields(response.headers, into: &buffer)
    }

    private static func writeFields(_ headers: HTTPHeaderFields, into buffer: inout ByteBuffer) {
        for field in headers {
            writeSanitized(field.name, into: &buffer)
            buffer.writeString(": ")
            writeSanitized(field.value, into: &buffer)
            buffer.writeString("\r\n")
        }
        buffer.writeString("\r\n")
    }

    private static func writeSanitized(_ text: String, into buffer: inout ByteBuffer) {
        let utf8 = text.utf8
        if !utf8.contains(where: isLineBreaking) {
            buffer.writeString(text)
            return
        }
        buffer.reserveCapacity(minimumWritableBytes: utf8.count)
        for byte in utf8 {
            buffer.writeInteger(isLineBreaking(byte) ? HTTPGrammar.space : byte)
        }
    }

    @inline(__always)
    private static func isLineBreaking(_ byte: UInt8) -> Bool {
        byte == HTTPGrammar.carriageReturn || byte == HTTPGrammar.lineFeed || byte == 0
    }
}

extension HandshakeRequest {
    /// Writes the request head: request-line, fields and the blank line (RFC 9112 §3). CR, LF and NUL
    /// in any part are written as SP so that no value can inject a field.
    public func write(into buffer: inout ByteBuffer) {
        HandshakeHeadWriter.writeRequest(self, into: &buffer)
    }
}

extension HandshakeResponse {
    /// Writes the response head: `HTTP/1.1` status-line, fields and the blank line (RFC 9112 §4). CR, LF
    /// and NUL in any part are written as SP so that no value can inject a field.
    public func write(into buffer: inout ByteBuffer) {
        HandshakeHeadWriter.writeResponse(self, into: &buffer)
    }
}
