import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import SwitchboardProtocol
import SwitchboardWebSocket
import SwitchboardWebSocketNIO

/// Fan-out against a running `switchboard serve`: N WebSocket subscribers on one channel, a publisher on
/// the HTTP API at increasing rates, and per rate the delivery latency, throughput and losses.
///
/// Run through `Benchmarks/fanout.sh`, which starts the server on one core and this on the other. Sender
/// and receivers share the host's monotonic clock (CLOCK_MONOTONIC), so a payload's send time is comparable
/// with its receipt time.
@main
struct FanoutBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "FanoutBenchmark",
        abstract: "Fan-out benchmark for switchboard serve: delivery latency and throughput per publish rate.")

    @Option(help: "Server address.")
    var host = "127.0.0.1"

    @Option(help: "Server port.")
    var port: Int

    @Option(name: .customLong("subscriber-ports"),
            help: "Nodes the subscribers spread over, round-robin, comma-separated (default: --port). The publisher uses --port.")
    var subscriberPorts: String?

    @Option(help: "WebSocket path.")
    var path = "/connection/websocket"

    @Option(help: "Channel every subscriber joins (its namespace must allow anonymous subscribers).")
    var channel = "bench:room"

    @Option(name: .customLong("api-key"), help: "Key for POST /api/publish.")
    var apiKey = "bench-key"

    @Option(help: "Subscriber connections.")
    var subscribers = 10_000

    @Option(name: .customLong("connect-concurrency"), help: "Connect-and-subscribe attempts in flight during the ramp.")
    var connectConcurrency = 500

    @Option(name: .customLong("subscribe-timeout"), help: "Seconds one subscriber may take to connect and subscribe.")
    var subscribeTimeout = 60

    @Option(help: "Publications per second of each step, comma-separated, in order.")
    var rates = "1,2,5,10,20,50,100,200,500,1000"

    @Option(name: .customLong("step-seconds"), help: "Seconds each step publishes.")
    var stepSeconds = 10.0

    @Option(name: .customLong("drain-seconds"), help: "After a step's last send, seconds to wait for its deliveries.")
    var drainSeconds = 5.0

    @Option(name: .customLong("payload-size"), help: "Bytes of each publication's data JSON.")
    var payloadSize = 100

    @Option(name: .customLong("publish-connections"), help: "Keep-alive HTTP connections of the publisher.")
    var publishConnections = 4

    @Option(name: .customLong("max-in-flight"), help: "Unanswered publish requests per connection before sends are skipped.")
    var maxInFlight = 1000

    @Option(name: .customLong("max-p99-ms"), help: "Stop the ladder after a step whose delivery p99 exceeds this.")
    var maxP99Milliseconds = 1000.0

    @Option(name: .customLong("server-pid"), help: "The server's process id: its CPU and memory are reported (Linux).")
    var serverPID: Int32?

    @Option(help: "Event-loop threads for the subscribers (the publisher has one of its own).")
    var threads = 1

    @Option(help: "The subscribers' wire encoding: json or protobuf (the switchboard.v1.protobuf subprotocol).")
    var encoding = "json"

    @Flag(help: "Offer permessage-deflate (the node compresses only with compression on: fanout.sh --deflate).")
    var deflate = false

    private var wireEncoding: WireEncoding { self.encoding == "protobuf" ? .protobuf : .json }

    func validate() throws {
        guard ["json", "protobuf"].contains(self.encoding) else { throw ValidationError("--encoding must be json or protobuf") }
        guard self.parsedSubscriberPorts != nil else { throw ValidationError("--subscriber-ports must be port numbers, comma-separated") }
        guard self.parsedRates != nil else { throw ValidationError("--rates must be positive numbers, comma-separated") }
        guard self.subscribers > 0, self.connectConcurrency > 0, self.threads > 0, self.publishConnections > 0,
              self.maxInFlight > 0, self.stepSeconds > 0, self.drainSeconds >= 0, self.subscribeTimeout > 0
        else { throw ValidationError("counts and durations must be positive") }
        guard self.parsedRates!.count <= DeliveryRecorder.maximumSteps else {
            throw ValidationError("at most \(DeliveryRecorder.maximumSteps) rates")
        }
    }

    private var parsedSubscriberPorts: [Int]? {
        guard let list = self.subscriberPorts else { return [self.port] }
        let ports = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !ports.isEmpty, ports.allSatisfy({ $0 != nil }) else { return nil }
        return ports.compactMap { $0 }
    }

    private var parsedRates: [Double]? {
        let rates = self.rates.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !rates.isEmpty, rates.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return rates.compactMap { $0 }
    }

    func run() async throws {
        let subscriberGroup = MultiThreadedEventLoopGroup(numberOfThreads: self.threads)
        let publisherGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await self.measure(subscriberGroup: subscriberGroup, publisherGroup: publisherGroup)
        } catch {
            try? await subscriberGroup.shutdownGracefully()
            try? await publisherGroup.shutdownGracefully()
            throw error
        }
        // Closes every connection (the server sees them go at once, which is also worth surviving).
        try await subscriberGroup.shutdownGracefully()
        try await publisherGroup.shutdownGracefully()
    }

    private func measure(subscriberGroup: MultiThreadedEventLoopGroup, publisherGroup: MultiThreadedEventLoopGroup) async throws {
        let urls = self.parsedSubscriberPorts!.map { "ws://\(self.host):\($0)\(self.path)" }
        let url = urls.count == 1 ? urls[0] : "\(urls.count) nodes (\(urls.joined(separator: ", ")))"
        Self.say("Fan-out: \(self.subscribers) subscribers on \(self.channel) at \(url), \(self.payloadSize)-byte payloads, "
                 + "steps of \(Self.format(self.stepSeconds)) s (+ up to \(Self.format(self.drainSeconds)) s drain), "
                 + "\(self.threads) client loop(s)" + (ProcessSampler.loadAverage().map { ", load average \($0)" } ?? ""))

        // Ramp: connect and subscribe everyone before publishing anything.
        let serverIdle = self.serverPID.flatMap { ProcessSampler.sample(pid: $0) }
        let pool = SubscriberPool(count: self.subscribers, channel: self.channel, encoding: self.wireEncoding, eventLoopGroup: subscriberGroup)
        var clientConfiguration = Self.clientConfiguration
        if self.wireEncoding == .protobuf { clientConfiguration.subprotocols = [WireEncoding.protobuf.subprotocol] }
        if self.deflate { clientConfiguration.connection.deflate = PerMessageDeflateConfiguration() }
        let ramp = await pool.connectAll(urls: urls, configuration: clientConfiguration, concurrency: self.connectConcurrency,
                                         timeout: .seconds(Int64(self.subscribeTimeout))) { done in
            Self.note("  \(done) subscribers done")
        }
        let serverLoaded = self.serverPID.flatMap { ProcessSampler.sample(pid: $0) }
        Self.say(Self.rampSummary(ramp, before: serverIdle, after: serverLoaded)
                 + ramp.firstFailures.map { "\n  failure: \($0)" }.joined())
        guard ramp.subscribed > 0 else { throw ExitCode.failure }

        let publisher = try await Publisher.connect(
            Publisher.Settings(host: self.host, port: self.port, apiKey: self.apiKey, channel: self.channel,
                               connections: self.publishConnections, payloadSize: self.payloadSize, maximumInFlight: self.maxInFlight),
            eventLoop: publisherGroup.next())
        let ladder = Ladder(
            settings: Ladder.Settings(rates: self.parsedRates!, stepSeconds: self.stepSeconds, drainSeconds: self.drainSeconds,
                                      maximumP99Milliseconds: self.maxP99Milliseconds, serverPID: self.serverPID),
            pool: pool, publisher: publisher)
        Self.say(StepTable.header)
        let writtenBefore = ProcessSampler.bytesSent(fromPort: self.port)
        let (results, stopReason) = try await ladder.run { result in Self.say(StepTable.row(result)) }
        let writtenAfter = ProcessSampler.bytesSent(fromPort: self.port)

        // The whole table again, with what happened around it.
        print("\n" + StepTable.header)
        for result in results { print(StepTable.row(result)) }
        print(StepTable.legend)
        for note in StepTable.notes(results) { print("Note: \(note)") }
        print(stopReason.map { "Stopped: \($0)" } ?? "Every rate passed.")
        try await self.printIncidents(results: results, pool: pool, publisher: publisher)
        if let writtenBefore, let writtenAfter {
            let delivered = results.reduce(UInt64(0)) { $0 + $1.deliveries.received }
            let written = writtenAfter - writtenBefore
            print("Wire: the server's sockets sent \(written) bytes while publishing: \(Self.format(Double(written) / Double(max(delivered, 1)))) "
                  + "per delivery (\(self.wireEncoding == .protobuf ? "protobuf" : "JSON")\(self.deflate ? ", permessage-deflate offered" : ""); "
                  + "TCP payload: WebSocket frames with their headers, and the few bytes of the API's answers and pings)")
        }
    }

    private func printIncidents(results: [StepResult], pool: SubscriberPool, publisher: Publisher) async throws {
        var total = StepDeliveries()
        for result in results { total.merge(result.deliveries) }
        // An epoch change mid-run means the channel's stream was recreated under its subscribers.
        print("Order: \(total.gaps) offsets skipped, \(total.duplicates) duplicates, \(total.epochChanges) epoch changes in all steps")
        let incidents = try await pool.incidents()
        print("Subscribers: \(try await pool.liveCount()) live at the end; \(incidents.closed) closed during the run, "
              + "\(incidents.serverEnded) disconnect/unsubscribed pushes, \(incidents.unexpected) unexpected messages")
        for sample in incidents.samples { print("  \(sample)") }
        let newest = try await publisher.newestOffset()
        let tail = try await pool.missingTail(lastOffset: newest)
        print("End check: channel at offset \(newest); live subscribers are missing \(tail) publications behind it")
        if let pid = self.serverPID, let server = ProcessSampler.sample(pid: pid) {
            print("Server: RSS \(Self.format(server.residentMegabytes)) MB (peak \(Self.format(server.peakResidentMegabytes)) MB), "
                  + "\(server.threads) threads, \(Self.format(server.cpuSeconds)) CPU s in total")
        }
    }

    /// No compression (the server never negotiates it: it sends one shared frame to everyone), no client
    /// heartbeat (the server pings; the client answers), patient connects on a busy machine.
    private static var clientConfiguration: WebSocketClientConfiguration {
        var configuration = WebSocketClientConfiguration()
        configuration.connection.deflate = nil
        configuration.connection.heartbeat = nil
        configuration.connectTimeout = .seconds(30)
        return configuration
    }

    private static func rampSummary(_ ramp: SubscriberPool.RampResult, before: ProcessSample?, after: ProcessSample?) -> String {
        var summary = "Connect: \(ramp.subscribed) subscribed, \(ramp.failed) failed, in \(Self.format(ramp.seconds)) s "
            + "(\(Int(Double(ramp.subscribed) / max(ramp.seconds, 0.001)))/s)"
        if let before, let after {
            let perSubscriber = Double(after.residentBytes - before.residentBytes) / Double(max(ramp.subscribed, 1)) / 1024
            summary += "; server RSS \(Self.format(before.residentMegabytes)) -> \(Self.format(after.residentMegabytes)) MB "
                + "(\(Self.format(perSubscriber)) KB per subscriber), CPU \(Self.format(after.cpuPercent(since: before)))%"
        }
        return summary
    }

    /// Results as they come: stdout is block-buffered when piped (to tee, say), so flush each line.
    private static func say(_ text: String) {
        print(text)
        fflush(nil)
    }

    /// Progress, on stderr so stdout holds only the results.
    private static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    private static func format(_ value: Double) -> String { String(format: "%.1f", value) }
}
