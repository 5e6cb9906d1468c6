import ArgumentParser
import Foundation
import SwitchboardClient
import SwitchboardProtocol

/// `switchboard connect URL`: a terminal client in one of two modes.
///
/// - Raw (the default): a plain WebSocket client, like wscat (``runRaw()``).
/// - Protocol (`--realtime`, implied by `--subscribe`, `--publish` and `--token`): the Switchboard protocol
///   through ``RealtimeClient``, with its reconnects and recovery (``RealtimeSession``).
struct ConnectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "Connect to a WebSocket server (raw) or a Switchboard node (--realtime, --subscribe, --publish, --token).",
        discussion: """
            RAW MODE (default): stdin lines are sent as text messages and every message is printed. At the end \
            of stdin it keeps printing until the server has been quiet for 1 s (10 s at most), then closes. \
            Exits 0 after a normal close, 1 after another close, 2 when it cannot connect.

            PROTOCOL MODE (--realtime, or any of --subscribe, --publish, --token): speaks the Switchboard \
            protocol, reconnecting with backoff and recovering missed publications. URL may be ws://, wss://, \
            http://, https:// or host:port; without a path it means the node's /connection/websocket. Each \
            publication is printed on stdout as one JSON line (channel, offset, epoch, data, and publisher when \
            a client published it); connection states, gaps and recoveries go to stderr as '# ' lines. Each \
            non-empty stdin line is published to --publish CHANNEL (default: the first --subscribe channel): a \
            line that is JSON is sent as that value, anything else as a JSON string; a line refused with 201 or 202 is resent after a pause. The token is --token, \
            else $SWITCHBOARD_TOKEN (prefer the environment: a command-line token shows in ps); without \
            one the connection is anonymous. Exits 0 when stdin ends and every publication was acknowledged \
            (after its own last publication was printed, when subscribed to that channel), 1 when the client \
            stops for good (a 4500-4999 disconnect, a refused or expired token, a refused subscription, \
            --max-attempts reached), 3 when stdin ended but some publications failed.
            """
    )

    @Argument(help: "Raw mode: ws:// or wss:// URL. Protocol mode: the node (ws://, wss://, http://, https:// or host:port).")
    var url: String

    // MARK: Protocol mode

    @Flag(help: "Speak the Switchboard protocol (implied by --subscribe, --publish and --token).")
    var realtime = false

    @Option(name: .customLong("subscribe"), help: ArgumentHelp("Subscribe to a channel and print its publications (repeatable).", valueName: "channel"))
    var subscriptions: [String] = []

    @Option(help: ArgumentHelp("Publish each stdin line to this channel (default: the first --subscribe).", valueName: "channel"))
    var publish: String?

    @Option(help: "The token (JWT) to connect with (default: $SWITCHBOARD_TOKEN; none: anonymous).")
    var token: String?

    @Flag(name: .customLong("no-stdin"), help: "Protocol mode: do not read stdin; run until interrupted or stopped for good.")
    var noStdin = false

    @Option(name: .customLong("max-attempts"), help: "Protocol mode: give up after this many failed reconnect attempts in a row (default: never).")
    var maxAttempts: Int?

    @Option(name: .customLong("protocol"), help: "Protocol mode: the wire encoding, json (default) or protobuf (the switchboard.v1.protobuf subprotocol).")
    var encoding: EncodingChoice?

    // MARK: Raw mode

    @Option(name: .customLong("header"), help: "Raw mode: extra request header 'Name: value' (repeatable).")
    var headers: [String] = []

    @Option(name: .customLong("subprotocol"), help: "Raw mode: subprotocol to offer (repeatable).")
    var subprotocols: [String] = []

    @Option(help: "Raw mode: Origin header to send.")
    var origin: String?

    @Flag(help: "Raw mode: do not verify the server's TLS certificate (testing only).")
    var insecure = false

    @Flag(name: .customLong("no-deflate"), help: "Do not offer permessage-deflate (offered by default, as browsers do).")
    var noDeflate = false

    @Option(name: .customLong("connect-timeout"), help: "Raw mode: seconds to wait for TCP, TLS and the handshake (default 10).")
    var connectTimeout: Int?

    /// Protocol mode is asked for explicitly or by a flag that only makes sense in it. The environment's
    /// token alone does not switch modes: `connect ws://echo…` must stay raw in a shell that exports one.
    var isProtocolMode: Bool {
        self.realtime || !self.subscriptions.isEmpty || self.publish != nil || self.token != nil
    }

    func validate() throws {
        if self.isProtocolMode {
            // RealtimeClient owns its transport settings; silently ignoring these would mislead.
            var rawOnly: [String] = []
            if !self.headers.isEmpty { rawOnly.append("--header") }
            if !self.subprotocols.isEmpty { rawOnly.append("--subprotocol") }
            if self.origin != nil { rawOnly.append("--origin") }
            if self.insecure { rawOnly.append("--insecure") }
            if self.connectTimeout != nil { rawOnly.append("--connect-timeout") }
            if !rawOnly.isEmpty {
                throw ValidationError("\(rawOnly.joined(separator: ", ")) only apply to raw mode, not with --realtime/--subscribe/--publish/--token")
            }
            if let maxAttempts = self.maxAttempts, maxAttempts < 1 { throw ValidationError("--max-attempts must be at least 1") }
            do { _ = try ServerURL(self.url) } catch { throw ValidationError(error.description) }
        } else if self.noStdin || self.maxAttempts != nil || self.encoding != nil {
            throw ValidationError("--no-stdin, --max-attempts and --protocol apply to protocol mode: add --realtime")
        }
    }

    func run() async throws {
        guard self.isProtocolMode else { return try await self.runRaw() }
        let server = try ServerURL(self.url)
        let session = RealtimeSession(
            url: server.webSocketURL,
            token: self.token ?? ProcessInfo.processInfo.environment["SWITCHBOARD_TOKEN"].flatMap { $0.isEmpty ? nil : $0 },
            subscriptions: self.subscriptions,
            publishChannel: self.publish ?? self.subscriptions.first,
            reconnect: ReconnectPolicy(maxAttempts: self.maxAttempts),
            encoding: (self.encoding ?? .json).encoding,
            compression: !self.noDeflate)
        let outcome = await session.run(lines: self.noStdin ? nil : StandardInputLines.start())
        switch outcome {
        case .inputEnded(0):
            return
        case .inputEnded(let failures):
            Console.shared.error("\(failures) publication\(failures == 1 ? "" : "s") failed")
        case .stopped(let why):
            Console.shared.error(why)
        }
        throw ExitCode(outcome.exitCode)
    }
}

/// `--protocol`: how protocol mode encodes its messages.
enum EncodingChoice: String, ExpressibleByArgument, CaseIterable {
    case json
    case protobuf

    var encoding: WireEncoding {
        switch self {
        case .json: .json
        case .protobuf: .protobuf
        }
    }
}
