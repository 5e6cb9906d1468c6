import Foundation
import HTTPTypes
import Hummingbird
import SwitchboardProtocol

/// A failure of one of the node's HTTP endpoints (the API, SSE, development tokens, the dashboard): the
/// status, and a body `{"error":{"code":…,"message":…}}` with the protocol's code, so back-ends and clients
/// read failures the same way. Each failure's status and code come from ``Failure``, the one table.
struct APIError: Error, HTTPResponseError {
    /// Every kind of failure, with its HTTP status and protocol code. PROTOCOL.md's tables follow this one.
    enum Failure: Sendable {
        /// 400 / 100: invalid JSON or field.
        case invalidRequest
        /// 400 / 107: the feature (presence, history) is off for the namespace.
        case featureOff
        /// 400 / 108: more channels than a client may have.
        case tooManyChannels
        /// 401 / 102: no valid credential (API key, token).
        case unauthorized
        /// 401 / 109: the token has expired.
        case tokenExpired
        /// 401 / 114: the connect ticket is unknown, expired or already used.
        case ticketRefused
        /// 403 / 103: not allowed (Origin, permissions, the API switched off, another user's token).
        case forbidden
        /// 403 / 110: the SSE session has not authenticated yet.
        case notConnected
        /// 404 / 104: the channel's namespace is not configured.
        case unknownChannel
        /// 404 / 110: no SSE session with that client id on this node.
        case unknownSession
        /// 410 / 113: `since` is no longer in history.
        case positionNotRetained
        /// 405 / 100: the path exists, not with this method.
        case methodNotAllowed
        /// 413 / 112: the body is over the limit.
        case tooLarge
        /// 429 / 108: too many connections from this address.
        case tooManyFromAddress
        /// 503 / 108: too many connections (or dashboard pages) in total.
        case tooManyInTotal
        /// 503 / 202: a dependency (the broker) is unavailable, or the node is overloaded; nothing was done.
        case unavailable
        /// 504 / 203: the broker did not confirm; the operation may or may not have taken effect.
        case outcomeUnknown
        /// 500 / 200.
        case internalError

        var status: HTTPResponse.Status {
            switch self {
            case .invalidRequest, .featureOff, .tooManyChannels: .badRequest
            case .unauthorized, .tokenExpired, .ticketRefused: .unauthorized
            case .forbidden, .notConnected: .forbidden
            case .unknownChannel, .unknownSession: .notFound
            case .methodNotAllowed: .methodNotAllowed
            case .positionNotRetained: .gone
            case .tooLarge: .contentTooLarge
            case .tooManyFromAddress: .tooManyRequests
            case .tooManyInTotal, .unavailable: .serviceUnavailable
            case .outcomeUnknown: .gatewayTimeout
            case .internalError: .internalServerError
            }
        }

        var code: ErrorCode {
            switch self {
            case .invalidRequest, .methodNotAllowed: .badRequest
            case .featureOff: .notAvailable
            case .tooManyChannels, .tooManyFromAddress, .tooManyInTotal: .limitExceeded
            case .unauthorized: .unauthorized
            case .tokenExpired: .tokenExpired
            case .ticketRefused: .ticketRefused
            case .forbidden: .permissionDenied
            case .notConnected, .unknownSession: .notConnected
            case .unknownChannel: .unknownChannel
            case .positionNotRetained: .positionNotRetained
            case .tooLarge: .messageTooLarge
            case .unavailable: .unavailable
            case .outcomeUnknown: .outcomeUnknown
            case .internalError: .internalError
            }
        }

        /// The failure a protocol error from the node's own checks stands for (channel refusals, tokens).
        init(_ code: ErrorCode) {
            switch code {
            case .unauthorized: self = .unauthorized
            case .tokenExpired: self = .tokenExpired
            case .ticketRefused: self = .ticketRefused
            case .permissionDenied: self = .forbidden
            case .unknownChannel: self = .unknownChannel
            case .notAvailable: self = .featureOff
            case .positionNotRetained: self = .positionNotRetained
            case .limitExceeded: self = .tooManyChannels
            case .messageTooLarge: self = .tooLarge
            case .notConnected: self = .notConnected
            case .unavailable, .rateLimited: self = .unavailable
            case .outcomeUnknown: self = .outcomeUnknown
            case .internalError: self = .internalError
            default: self = .invalidRequest
            }
        }
    }

    let failure: Failure
    let message: String
    /// Seconds for a `Retry-After` header (admission control).
    var retryAfter: Int?
    /// The methods for an `Allow` header (405).
    var allow: [HTTPRequest.Method] = []

    init(_ failure: Failure, _ message: String, retryAfter: Int? = nil) {
        self.failure = failure
        self.message = message
        self.retryAfter = retryAfter
    }

    init(_ error: ServerMessage.ProtocolError) {
        self.init(Failure(error.code), error.message)
    }

    var status: HTTPResponse.Status { self.failure.status }
    var code: ErrorCode { self.failure.code }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        // The encoder of every protocol message: sorted keys, `/` not escaped, as PROTOCOL.md promises.
        let body = try ServerMessageEncoder.encoder.encode(["error": ServerMessage.ProtocolError(code: self.code, message: self.message)])
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if !self.allow.isEmpty { headers[.allow] = self.allow.map(\.rawValue).joined(separator: ", ") }
        return Response(status: self.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension Request {
    /// Decodes a JSON body of at most `limit` bytes, with errors that name the problem.
    func decodeJSON<T: Decodable>(_ type: T.Type, limit: Int) async throws -> T {
        let body: ByteBuffer
        do {
            body = try await self.body.collect(upTo: limit)
        } catch {
            throw APIError(.tooLarge, "request body over \(limit) bytes")
        }
        do {
            // A publication's `data` keeps the text the back-end sent (when it is strict JSON).
            let data = Data(body.readableBytesView)
            return try data.withUnsafeBytes { RawJSON.decoder(keepingMember: "data", of: $0) }.decode(T.self, from: data)
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw APIError(.invalidRequest, "invalid JSON body: \(InvalidJSON.reason(body.readableBytesView))")
        } catch let error as DecodingError {
            throw APIError(.invalidRequest, "invalid JSON body: \(Self.describe(error))")
        } catch {
            throw APIError(.invalidRequest, "invalid JSON body")
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
