import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 request to a loopback server on a fresh connection (`Connection: close`), answered by
/// reading to the end of the stream. For test drivers (chromedriver, a node's HTTP API): FoundationNetworking's
/// URLSession fails against chromedriver on Linux ("Failed writing header"), and nothing more is needed.
///
/// The blocking socket calls run on a Dispatch queue, never on Swift concurrency's few cooperative threads.
public enum LoopbackHTTPRequest {
    public struct Response: Sendable {
        public let status: Int
        public let body: Data
        public var text: String { String(decoding: self.body, as: UTF8.self) }
    }

    public static func send(_ method: String, port: Int, path: String, headers: [(String, String)] = [], body: Data? = nil,
                            timeoutSeconds: Int = 120) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    try Self.exchange(method, port: port, path: path, headers: headers, body: body, timeoutSeconds: timeoutSeconds)
                })
            }
        }
    }

    private static func exchange(_ method: String, port: Int, path: String, headers: [(String, String)], body: Data?,
                                 timeoutSeconds: Int) throws -> Response {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw LoopbackHTTPError("socket: errno \(errno)") }
        defer { close(socket) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw LoopbackHTTPError("connect to 127.0.0.1:\(port): errno \(errno)") }

        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(body?.count ?? 0)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body, !body.isEmpty, !headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            head += "Content-Type: application/json\r\n"
        }
        var request = Data((head + "\r\n").utf8)
        if let body { request.append(body) }
        try request.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let written = Glibc.send(socket, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                guard written > 0 else { throw LoopbackHTTPError("send: errno \(errno)") }
                sent += written
            }
        }

        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        // Some servers (chromedriver) keep the connection open despite `Connection: close`: stop at the
        // end of the body as Content-Length or the last chunk marks it, or at the end of the stream.
        while !Self.isComplete(received) {
            let count = recv(socket, &buffer, buffer.count, 0)
            if count == 0 { break }
            guard count > 0 else { throw LoopbackHTTPError("recv: errno \(errno) after \(received.count) bytes") }
            received.append(contentsOf: buffer[0..<count])
        }
        return try Self.parse(received)
    }

    private static func isComplete(_ data: Data) -> Bool {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { return false }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self).lowercased()
        let bodyCount = data.distance(from: end.upperBound, to: data.endIndex)
        for line in head.components(separatedBy: "\r\n") where line.hasPrefix("content-length:") {
            return bodyCount >= Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? Int.max
        }
        if head.contains("transfer-encoding: chunked") {
            return data[end.upperBound...].range(of: Data("\r\n0\r\n\r\n".utf8)) != nil || data[end.upperBound...].starts(with: Data("0\r\n\r\n".utf8))
        }
        return false
    }

    /// Status line and body; a chunked body is joined.
    private static func parse(_ data: Data) throws -> Response {
        guard let end = data.range(of: Data("\r\n\r\n".utf8)) else { throw LoopbackHTTPError("no complete response head") }
        let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines.first?.split(separator: " ") ?? []
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw LoopbackHTTPError("bad status line: \(lines.first ?? "")") }
        var body = Data(data[end.upperBound...])
        if lines.dropFirst().contains(where: { $0.lowercased().hasPrefix("transfer-encoding:") && $0.lowercased().contains("chunked") }) {
            body = try Self.dechunk(body)
        }
        return Response(status: status, body: body)
    }

    private static func dechunk(_ data: Data) throws -> Data {
        var output = Data()
        var index = data.startIndex
        while let lineEnd = data[index...].range(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: data[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw LoopbackHTTPError("bad chunk size") }
            if size == 0 { break }
            let start = lineEnd.upperBound
            guard data.distance(from: start, to: data.endIndex) >= size + 2 else { throw LoopbackHTTPError("truncated chunk") }
            output.append(data[start..<data.index(start, offsetBy: size)])
            index = data.index(start, offsetBy: size + 2)
        }
        return output
    }
}

public struct LoopbackHTTPError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
