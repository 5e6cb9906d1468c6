import Metrics
import NIOConcurrencyHelpers
import Prometheus

/// The Prometheus backend for swift-metrics and the text that `GET /metrics` answers with.
///
/// ```swift
/// let exporter = PrometheusExporter()
/// exporter.bootstrapIfNeeded()                         // libraries' metrics (Hummingbird's too) land here
/// let metrics = ServerMetrics(factory: MetricsSystem.factory)
/// // GET /metrics: exporter.render(), with Content-Type PrometheusExporter.contentType
/// ```
///
/// When the embedding application has bootstrapped another backend already, `bootstrapIfNeeded()` leaves it
/// alone and the server's metrics go to that backend; `/metrics` then shows only what was recorded through
/// ``factory`` directly. To have both, pass `MultiplexMetricsHandler(factories: [MetricsSystem.factory,
/// exporter.factory])` to ``ServerMetrics``.
public struct PrometheusExporter: Sendable {
    /// Holds the metrics created through ``factory``; ``render()`` writes them out.
    public let registry: PrometheusCollectorRegistry
    /// A swift-metrics factory that records into ``registry``, with latency buckets fit for a real-time server.
    public let factory: PrometheusMetricsFactory

    /// The media type of ``render()``: the Prometheus text exposition format 0.0.4.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// - Parameter registry: a fresh registry by default, so tests and several servers in one process do not
    ///   share series.
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // The default buckets start at 5 ms, where a delivery within one node has long finished: the
        // interesting range for both timers is 100 µs to a few seconds.
        let buckets: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .microseconds(2500),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        factory.durationHistogramBuckets["switchboard_delivery_latency_seconds"] = buckets
        factory.durationHistogramBuckets["switchboard_command_duration_seconds"] = buckets
        self.factory = factory
    }

    /// Makes ``factory`` the process-wide metrics backend, unless one is set already (or bound to the current
    /// task with `withMetricsFactory`). Returns whether it did.
    ///
    /// swift-metrics allows one bootstrap per process and crashes on a second, so this checks first, under a
    /// lock shared by every exporter. It cannot guard against code that calls `MetricsSystem.bootstrap` itself
    /// at the same moment.
    @discardableResult
    public func bootstrapIfNeeded() -> Bool {
        Self.bootstrapLock.withLock {
            guard MetricsSystem.factory is NOOPMetricsHandler else { return false }
            MetricsSystem.bootstrap(self.factory)
            return true
        }
    }

    private static let bootstrapLock = NIOLock()

    /// Every metric in ``registry``, in the text exposition format.
    public func render() -> String {
        self.registry.emitToString()
    }

    /// ``render()`` as UTF-8 bytes, for a response body without a detour through `String`.
    public func renderBytes() -> [UInt8] {
        self.registry.emitToBuffer()
    }
}
