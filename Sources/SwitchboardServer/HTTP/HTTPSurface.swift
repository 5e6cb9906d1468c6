import Foundation
import Hummingbird
import Logging

/// Everything the node serves over plain HTTP on its one port: `/health`, the back-end API, the SSE
/// fallback, development tokens, and the static pages (demo on `/`, `switchboard.js`, the dashboard).
enum HTTPSurface {
    static func makeRouter(context: ServerContext, limiter: ConnectionLimiter, origins: OriginPolicy,
                           exporter: PrometheusExporter, dashboard: DashboardFeed?,
                           ready: @escaping @Sendable () -> Bool, stats: @escaping @Sendable () -> ServerInfo)
        -> Router<SwitchboardRequestContext>
    {
        let router = Router(context: SwitchboardRequestContext.self)
        router.get("health") { _, _ -> Response in
            // Ready means listening with the broker started, and not draining.
            let plain: HTTPFields = [.contentType: "text/plain; charset=utf-8"]
            return ready() ? Response(status: .ok, headers: plain, body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
                : Response(status: .serviceUnavailable, headers: plain, body: .init(byteBuffer: ByteBuffer(string: "not ready\n")))
        }
        router.get("metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: PrometheusExporter.contentType],
                     body: .init(byteBuffer: ByteBuffer(bytes: exporter.renderBytes())))
        }
        if let dashboard {
            router.get("dashboard") { _, _ in Response(status: .seeOther, headers: [.location: "/dashboard.html"]) }
            router.get("dashboard/events") { _, _ -> Response in
                guard let events = dashboard.events() else {
                    throw APIError(.tooManyInTotal, "too many dashboard pages open")
                }
                return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                                body: ResponseBody(asyncSequence: events.map { ByteBuffer(string: $0) }))
            }
        }
        HTTPAPIRoutes(context: context, stats: stats).register(on: router)
        SSERoutes(context: context, limiter: limiter, origins: origins).register(on: router)
        TicketRoute(context: context, origins: origins).register(on: router)
        if let secret = context.developmentSecret {
            DevelopmentTokenRoute(secret: secret, context: context).register(on: router)
        }
        // Added after the routes, a middleware sees only what no route took: a known path with another
        // method gets 405 instead of the router's 404.
        router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
        if let folder = Bundle.module.url(forResource: "public", withExtension: nil)?.path {
            // no-cache: a browser revalidates (ETag) on every load, so a node's upgrade reaches open tabs'
            // next reload instead of a heuristically cached switchboard.js beside a new page.
            let revalidate = CacheControl([(MediaType(type: .any), [.noCache])])
            router.add(middleware: FileMiddleware(folder, cacheControl: revalidate, searchForIndexHtml: true, logger: context.logger))
        } else {
            context.logger.warning("Static pages not found in the resource bundle: no demo page or dashboard")
        }
        return router
    }
}
