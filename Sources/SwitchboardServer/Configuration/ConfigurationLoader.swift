import Foundation

/// A configuration that could not be read, naming the file or variable and what is wrong with it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension ServerConfiguration {
    /// The environment variables `load` reads, each overriding the file. Lists are comma-separated.
    public static let environmentVariables: [(name: String, meaning: String)] = [
        ("SWITCHBOARD_CONFIG", "path of a JSON config file"),
        ("SWITCHBOARD_HOST", "address to listen on"),
        ("SWITCHBOARD_PORT", "port to listen on"),
        ("SWITCHBOARD_REUSE_PORT", "true to share the port with other nodes on this host (SO_REUSEPORT)"),
        ("SWITCHBOARD_HMAC_SECRETS", "HS256 secrets, at least 32 bytes each"),
        ("SWITCHBOARD_API_KEYS", "keys for the HTTP API"),
        ("SWITCHBOARD_ALLOWED_ORIGINS", "origins allowed to connect from a browser"),
        ("SWITCHBOARD_TRUSTED_PROXIES", "reverse proxies whose X-Forwarded-For names the client"),
        ("SWITCHBOARD_ALLOW_ANONYMOUS", "true to let clients connect without a token"),
        ("SWITCHBOARD_BROKER", "memory, or redis://host:port"),
        ("SWITCHBOARD_TLS_CERTIFICATE", "PEM certificate chain file"),
        ("SWITCHBOARD_TLS_KEY", "PEM private key file"),
    ]

    /// Defaults, then the JSON file (`file`, else `SWITCHBOARD_CONFIG`), then environment variables.
    public static func load(file: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServerConfiguration {
        var configuration = ServerConfiguration()
        if let path = file ?? environment["SWITCHBOARD_CONFIG"] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(description: "cannot read config file \(path)")
            }
            do {
                configuration = try JSONDecoder().decode(ServerConfiguration.self, from: data)
            } catch let error as DecodingError {
                throw ConfigurationError(description: "config file \(path): \(Self.describe(error))")
            }
        }
        func list(_ name: String) -> [String]? {
            environment[name].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        }
        if let host = environment["SWITCHBOARD_HOST"] { configuration.host = host }
        if let port = environment["SWITCHBOARD_PORT"] {
            guard let value = Int(port), (0...65535).contains(value) else {
                throw ConfigurationError(description: "SWITCHBOARD_PORT must be a port number, not '\(port)'")
            }
            configuration.port = value
        }
        if let reuse = environment["SWITCHBOARD_REUSE_PORT"] {
            guard let value = Bool(reuse.lowercased()) else {
                throw ConfigurationError(description: "SWITCHBOARD_REUSE_PORT must be true or false, not '\(reuse)'")
            }
            configuration.reusePort = value
        }
        if let secrets = list("SWITCHBOARD_HMAC_SECRETS") {
            guard secrets.allSatisfy({ $0.utf8.count >= 32 }) else {
                throw ConfigurationError(description: "SWITCHBOARD_HMAC_SECRETS: every secret must be at least 32 bytes")
            }
            configuration.auth.hmacSecrets = secrets
        }
        if let keys = list("SWITCHBOARD_API_KEYS") { configuration.apiKeys = keys }
        if let origins = list("SWITCHBOARD_ALLOWED_ORIGINS") { configuration.allowedOrigins = origins }
        if let proxies = list("SWITCHBOARD_TRUSTED_PROXIES") { configuration.trustedProxies = proxies }
        _ = try ClientAddressResolver(trustedProxies: configuration.trustedProxies)
        if let anonymous = environment["SWITCHBOARD_ALLOW_ANONYMOUS"] {
            guard let value = Bool(anonymous.lowercased()) else {
                throw ConfigurationError(description: "SWITCHBOARD_ALLOW_ANONYMOUS must be true or false, not '\(anonymous)'")
            }
            configuration.auth.allowAnonymous = value
        }
        if let broker = environment["SWITCHBOARD_BROKER"] { configuration.broker = broker }
        if let certificate = environment["SWITCHBOARD_TLS_CERTIFICATE"] { configuration.tlsCertificatePath = certificate }
        if let key = environment["SWITCHBOARD_TLS_KEY"] { configuration.tlsKeyPath = key }
        guard (configuration.tlsCertificatePath == nil) == (configuration.tlsKeyPath == nil) else {
            throw ConfigurationError(description: "TLS needs both a certificate and a key file")
        }
        return configuration
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
            return "\(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context):
            return path(context).isEmpty ? context.debugDescription : "\(path(context)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}
