import Hummingbird
import Logging
import ServiceLifecycle
import SwitchboardProtocol
import SwitchboardServer

/// A shop's back-end with a Switchboard node inside it: its own HTTP API (Hummingbird) takes orders, and
/// each order notifies its user at once on `user:<id>` through the node in the same process (no HTTP hop
/// to the node, no API key). The node serves the users' WebSocket and SSE connections on its own port.
public enum OrdersApp {
    /// What the shop's API accepts.
    public struct Order: Codable, Sendable {
        public var id: String
        public init(id: String) { self.id = id }
    }

    /// What a user's client receives on `user:<id>`.
    public struct OrderNotice: Codable, Sendable, Equatable {
        public var order: String
        public var status: String
        public init(order: String, status: String) {
            self.order = order
            self.status = status
        }
    }

    /// The answer to `POST /orders/{user}`: where the notice stands in the user's channel.
    struct Receipt: ResponseEncodable {
        var order: String
        var offset: UInt64
        var epoch: String
    }

    /// The shop's routes, publishing through `node`.
    public static func router(node: RealtimeServer) -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/orders/{user}") { request, context -> EditedResponse<Receipt> in
            let user = try context.parameters.require("user")
            let order = try await request.decode(as: Order.self, context: context)
            // ... the order is stored here; then its user hears about it, wherever they are connected.
            let notice = try RawJSON(encoding: OrderNotice(order: order.id, status: "received"))
            do {
                let position = try await node.publish(notice, to: "user:\(user)", idempotencyKey: "order-\(order.id)")
                return EditedResponse(status: .created, response: Receipt(order: order.id, offset: position.offset, epoch: position.epoch))
            } catch {
                throw HTTPError(.serviceUnavailable, message: "the notification was not sent: \(error)")
            }
        }
        return router
    }

    /// The node and the shop's API, to run in one `ServiceGroup`. `onHTTPRunning` gets the API's port.
    public static func services(node configuration: ServerConfiguration, httpHost: String = "127.0.0.1", httpPort: Int,
                                logger: Logger, onHTTPRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        async throws -> (node: RealtimeServer, services: [any Service])
    {
        let node = try await RealtimeServer(configuration: configuration, logger: logger)
        let api = Application(router: Self.router(node: node),
                              configuration: .init(address: .hostname(httpHost, port: httpPort)),
                              onServerRunning: { channel in await onHTTPRunning(channel.localAddress?.port ?? httpPort) },
                              logger: logger)
        return (node, [node, api])
    }
}
