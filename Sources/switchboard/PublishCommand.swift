import ArgumentParser
import Foundation
import SwitchboardProtocol

/// `switchboard publish CHANNEL DATA`: publishes through the node's HTTP API, as a back-end would, and prints
/// the publication's position.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish to a channel through the HTTP API (POST /api/publish).",
        discussion: """
            DATA that is JSON is sent as that value ('{"text":"hi"}', 42, true); anything else as a JSON string. \
            '-' reads DATA from stdin (one trailing newline removed). Prints the reply, e.g. \
            {"epoch":"x7Gk2QpA","offset":47}, and exits 0; on an HTTP error prints the status and the \
            server's message and exits 1. The API key is --api-key, else $SWITCHBOARD_API_KEY (one of the \
            node's apiKeys / SWITCHBOARD_API_KEYS); prefer the environment, a key on the command line shows in ps.
            """
    )

    @Argument(help: "The channel, e.g. chat:lobby.")
    var channel: String

    @Argument(help: "The data: JSON, or text sent as a JSON string; '-' reads stdin.")
    var data: String

    @Option(help: "The node (http://, https://, ws:// or wss://; a path is kept as a prefix of /api/publish).")
    var url = "http://127.0.0.1:8000"

    @Option(name: .customLong("api-key"), help: "The HTTP API key (default: $SWITCHBOARD_API_KEY).")
    var apiKey: String?

    @Option(help: "Seconds to wait for the reply.")
    var timeout = 10

    func validate() throws {
        guard !self.channel.isEmpty else { throw ValidationError("the channel must not be empty") }
        guard self.timeout > 0 else { throw ValidationError("--timeout must be positive") }
        do { _ = try ServerURL(self.url) } catch { throw ValidationError(error.description) }
    }

    func run() async throws {
        let text = self.data == "-" ? Self.readStandardInput() : self.data
        let body = CommandLineJSON.line(APIPublishRequest(channel: self.channel, data: CommandLineJSON.value(of: text)))
        let apiKey = self.apiKey ?? ProcessInfo.processInfo.environment["SWITCHBOARD_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let request = HTTPAPIRequest(url: try ServerURL(self.url), endpoint: "/api/publish", apiKey: apiKey,
                                     body: Array(body.utf8), timeout: .seconds(self.timeout))
        let response: HTTPAPIRequest.Response
        do {
            response = try await request.post()
        } catch {
            Console.shared.error("cannot publish to \(request.url.httpURL(endpoint: request.endpoint)): \(error)")
            throw ExitCode.failure
        }
        let decoder = JSONDecoder()
        if response.status == .ok, let reply = try? decoder.decode(APIPublishReply.self, from: Data(response.body)) {
            Console.shared.output(CommandLineJSON.line(reply))
            return
        }
        Console.shared.error(Self.describeFailure(response, hadKey: apiKey != nil))
        throw ExitCode.failure
    }

    /// `HTTP 404 Not Found: 104 no namespace configured for channel nope:x`, or the raw body when it is not
    /// the API's error shape (a proxy's page, say).
    static func describeFailure(_ response: HTTPAPIRequest.Response, hadKey: Bool) -> String {
        let status = "HTTP \(response.status.code) \(response.status.reasonPhrase)"
        guard let reply = try? JSONDecoder().decode(APIErrorReply.self, from: Data(response.body)) else {
            let body = String(decoding: response.body.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return body.isEmpty ? status : "\(status): \(body)"
        }
        let hint = response.status == .unauthorized && !hadKey ? " (pass --api-key or set SWITCHBOARD_API_KEY)" : ""
        return "\(status): \(reply.error.code) \(reply.error.message)\(hint)"
    }

    /// All of stdin; one trailing newline is what `echo` and a heredoc add, not part of the data.
    static func readStandardInput() -> String {
        var text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        if text.hasSuffix("\r\n") { text.removeLast(2) } else if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
