import Foundation
import Hummingbird

/// `GET /dev/token?user=alice[&ttl=3600]`: mints a token with the development secret, so the demo page can
/// sign people in. Only exists when `serve` generated that secret (no keys configured): with real keys,
/// tokens come from the application's own back-end.
struct DevelopmentTokenRoute {
    let secret: String
    let context: ServerContext

    struct Minted: Encodable, Sendable {
        var token: String
        var user: String
        var expires: Int
    }

    func register(on router: Router<SwitchboardRequestContext>) {
        router.get("dev/token") { request, _ in
            guard let user = request.uri.queryParameters.get("user"), !user.isEmpty, user.utf8.count <= 64,
                  user.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                throw APIError(.invalidRequest, "user must be 1-64 letters, digits, '-', '_' or '.'")
            }
            let ttl = min(max(request.uri.queryParameters.get("ttl").flatMap { Int($0) } ?? 3600, 1), 86_400)
            let minter = try TokenMinter(secret: self.secret, audience: self.context.configuration.auth.audience,
                                         issuer: self.context.configuration.auth.issuer)
            let token = try minter.mint(user: user, ttl: ttl, now: self.context.now())
            return JSONBody(value: Minted(token: token, user: user, expires: ttl))
        }
    }
}
