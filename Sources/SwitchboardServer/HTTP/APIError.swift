import Foundation
import Hummingbird
import SwitchboardProtocol

/// An HTTP API failure: the status, and a body `{"error":{"code":…,"message":…}}` with the protocol's code,
/// so back-ends and clients read failures the same way.
struct APIError: Error, HTTPResponseError {
    let status: HTTPResponse.Status
    let code: ErrorCode
    let message: String

    init(_ status: HTTPResponse.Status, _ code: ErrorCode, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(["error": ServerMessage.ProtocolError(code: self.code, message: self.message)])
        return Response(status: self.status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The HTTP status that matches a protocol error code.
    static func status(for code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .unauthorized, .tokenExpired: .unauthorized
        case .permissionDenied: .forbidden
        case .unknownChannel: .notFound
        case .messageTooLarge: .contentTooLarge
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        case .internalError: .internalServerError
        default: .badRequest
        }
    }

    init(_ error: ServerMessage.ProtocolError) {
        self.init(Self.status(for: error.code), error.code, error.message)
    }
}

extension Request {
    /// Decodes a JSON body of at most `limit` bytes, with errors that name the problem.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        let body: ByteBuffer
        do {
            body = try await self.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, .messageTooLarge, "request body over \(limit) bytes")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw APIError(.badRequest, .badRequest, "invalid JSON body: \(Self.describe(error))")
        } catch {
            throw APIError(.badRequest, .badRequest, "invalid JSON body")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            context.codingPath.isEmpty ? context.debugDescription
                : "\(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        @unknown default: "\(error)"
        }
    }
}

/// A JSON response body.
struct JSONBody<Value: Encodable & Sendable>: ResponseGenerator {
    let value: Value
    var status: HTTPResponse.Status = .ok

    func response(from request: Request, context: some RequestContext) throws -> Response {
        Response(status: self.status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(bytes: try ServerMessageEncoder.encoder.encode(self.value))))
    }
}
