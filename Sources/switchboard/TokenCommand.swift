import ArgumentParser
import Foundation
import SwitchboardServer

/// `switchboard token --sub USER`: prints an HS256 token the server accepts, for trying the server from a
/// terminal, a browser console or a test script. The secret is the server's: `--secret`, else the first of
/// `auth.hmacSecrets` from the configuration (`--config`, `SWITCHBOARD_CONFIG`, `SWITCHBOARD_HMAC_SECRETS`),
/// whose audience and issuer are written into the token too, so the server it configures accepts it; with
/// no keys configured at all, the development secret `serve` uses then (``DevelopmentSecretFile``).
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a signed token (JWT, HS256) for a user.",
        discussion: """
            Prefer SWITCHBOARD_HMAC_SECRETS or --config to --secret: a secret on the command line is visible \
            to every user of the machine (ps) and stays in the shell history. With no keys configured at all, \
            it signs with the development secret that 'switchboard serve' uses then, kept in \
            $SWITCHBOARD_STATE_DIR, else $XDG_STATE_HOME/switchboard, else ~/.local/state/switchboard \
            (development-secret, created on first use).
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
        let secret: String
        if let given = self.secret ?? configuration.auth.hmacSecrets.first {
            secret = given
        } else if !configuration.auth.hasKeys {
            // What `serve` signs with when it has no keys either.
            let file = DevelopmentSecretFile()
            do {
                secret = try file.secret()
            } catch {
                Console.shared.error("\(error)")
                throw ExitCode.failure
            }
            Console.shared.warning("no token keys configured: signed with the development secret in \(file.url.path), which `switchboard serve` uses without keys; not for production")
        } else {
            Console.shared.error("no HMAC secret (the configured keys are public keys, which cannot sign): pass --secret, set SWITCHBOARD_HMAC_SECRETS, or --config a file with auth.hmacSecrets")
            throw ExitCode.failure
        }
        let minter = try TokenMinter(secret: secret, audience: configuration.auth.audience, issuer: configuration.auth.issuer)
        print(try minter.mint(user: self.sub, ttl: self.ttl, channels: self.channels, now: Date()))
    }
}
