import ArgumentParser
import Foundation
import SwitchboardServer

/// `switchboard token --sub USER`: prints an HS256 token the server accepts, for trying the server from a
/// terminal, a browser console or a test script. The secret is the server's: `--secret`, else the first of
/// `auth.hmacSecrets` from the configuration (`--config`, `SWITCHBOARD_CONFIG`, `SWITCHBOARD_HMAC_SECRETS`),
/// whose audience and issuer are written into the token too, so the server it configures accepts it.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a signed token (JWT, HS256) for a user.",
        discussion: """
            Prefer SWITCHBOARD_HMAC_SECRETS or --config to --secret: a secret on the command line is visible \
            to every user of the machine (ps) and stays in the shell history.
            """
    )

    @Option(help: "The user id (the token's sub).")
    var sub: String

    // Unconditional: otherwise `--ttl -5` reads -5 as a flag and says the value is missing, when what is
    // wrong is the sign (validate() says so).
    @Option(parsing: .unconditional, help: "Seconds the token is valid.")
    var ttl: Int = 3600

    @Option(name: .customLong("channel"),
            help: "A channel the token grants in namespaces whose subscribe policy is token; a trailing * grants a prefix (repeatable).")
    var channels: [String] = []

    @Option(help: "The HS256 secret (at least 32 bytes).")
    var secret: String?

    @Option(help: "A JSON configuration file to take the secret, audience and issuer from.")
    var config: String?

    func validate() throws {
        guard !self.sub.isEmpty else { throw ValidationError("--sub must not be empty") }
        guard self.ttl > 0 else { throw ValidationError("--ttl must be a positive number of seconds") }
    }

    func run() async throws {
        let configuration = try ServerConfiguration.load(file: self.config)
        guard let secret = self.secret ?? configuration.auth.hmacSecrets.first else {
            FileHandle.standardError.write(Data("Error: no HMAC secret: pass --secret, set SWITCHBOARD_HMAC_SECRETS, or --config a file with auth.hmacSecrets\n".utf8))
            throw ExitCode.failure
        }
        let minter = try TokenMinter(secret: secret, audience: configuration.auth.audience, issuer: configuration.auth.issuer)
        print(try await minter.mint(user: self.sub, ttl: self.ttl, channels: self.channels, now: Date()))
    }
}
