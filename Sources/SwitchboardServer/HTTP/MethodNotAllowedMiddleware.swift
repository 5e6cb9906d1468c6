import HTTPTypes
import Hummingbird

/// Answers 405 with `Allow` (RFC 9110 §15.5.6) for a method a known path does not take, instead of the 404
/// a router gives for any method it has no route for: a client that sent `GET` to `/api/publish` learns
/// it must `POST`, not that the endpoint does not exist.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Path → the methods its routes take.
    let routes: [String: [HTTPRequest.Method]]

    /// The methods of the router's routes, by path (`/api/publish`).
    init(routes: [Router<Context>.RouteDescription]) {
        var methods: [String: [HTTPRequest.Method]] = [:]
        for route in routes {
            let path = route.path.description
            methods[path.hasPrefix("/") ? path : "/" + path, default: []].append(route.method)
        }
        self.routes = methods
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        guard let methods = self.routes[path], !methods.contains(request.method),
              !(request.method == .head && methods.contains(.get)) else {
            return try await next(request, context)
        }
        var error = APIError(.methodNotAllowed, "\(path) takes \(methods.map(\.rawValue).joined(separator: ", ")), not \(request.method.rawValue)")
        error.allow = methods
        throw error
    }
}
