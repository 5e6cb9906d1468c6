import ArgumentParser
import NIOSSL

/// `--tls-cert` / `--tls-key`: serve wss:// with a PEM certificate chain and private key.
struct TLSOptions: ParsableArguments {
    @Option(name: .customLong("tls-cert"), help: "PEM certificate chain: serve wss:// (needs --tls-key).")
    var certificate: String?

    @Option(name: .customLong("tls-key"), help: "PEM private key for --tls-cert.")
    var key: String?

    func validate() throws {
        if (self.certificate == nil) != (self.key == nil) {
            throw ValidationError("--tls-cert and --tls-key go together")
        }
    }

    func makeServerContext() throws -> NIOSSLContext? {
        guard let certificate, let key else { return nil }
        let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        return try NIOSSLContext(configuration: configuration)
    }
}
