import NIOSSL

/// TEST FIXTURE ONLY — a self-signed certificate and its private key for `wss://` tests over loopback.
///
/// Never use these anywhere else: the private key is public. Generated once with
/// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 36500
///  -subj "/CN=Switchboard test fixture" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost"`
/// (EC P-256, valid until 2126, SAN IP:127.0.0.1 and DNS:localhost).
enum TestCertificates {
    static let certificatePEM = """
-----BEGIN CERTIFICATE-----
MIIBujCCAV+gAwIBAgIUe14gP5GZvA8nPFSSkyirBVzQF3swCgYIKoZIzj0EAwIw
IzEhMB8GA1UEAwwYU3dpdGNoYm9hcmQgdGVzdCBmaXh0dXJlMCAXDTI2MTEyMTAy
NTg0MVoYDzIxMjYxMDI4MDI1ODQxWjAjMSEwHwYDVQQDDBhTd2l0Y2hib2FyZCB0
ZXN0IGZpeHR1cmUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATsUea0HJtDlfap
uezKXexzORlqwpepHbh2Nv2W8t07W+IiQWwvBs0UB6Ck978cft8djAuUhmq+YWSh
cJaVrI72o28wbTAdBgNVHQ4EFgQUhbMLpqeoep2wGTgHRbaZ6sYvAZAwHwYDVR0j
BBgwFoAUhbMLpqeoep2wGTgHRbaZ6sYvAZAwDwYDVR0TAQH/BAUwAwEB/zAaBgNV
HREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZIzj0EAwIDSQAwRgIhANIjGt0/
B2s4T61kNZvrjWxYyVFBWCD2QVf7S9RhfBwKAiEA3YtwAR3C506Fo8ngIFQPw8Dy
+v9Id6G/wNtCAAthznA=
-----END CERTIFICATE-----
"""

    static let privateKeyPEM = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeketVW/aJB8IGx6K
iYnXnLhHbunwO1swKthd7SHwpMChRANCAATsUea0HJtDlfapuezKXexzORlqwpep
Hbh2Nv2W8t07W+IiQWwvBs0UB6Ck978cft8djAuUhmq+YWShcJaVrI72
-----END PRIVATE KEY-----
"""

    static func certificate() throws -> NIOSSLCertificate {
        try NIOSSLCertificate(bytes: Array(certificatePEM.utf8), format: .pem)
    }

    /// A server context presenting the fixture certificate.
    static func serverContext() throws -> NIOSSLContext {
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: [.certificate(try certificate())], privateKey: .privateKey(key))
        return try NIOSSLContext(configuration: configuration)
    }

    /// A client configuration that trusts only the fixture certificate.
    static func trustingClientConfiguration() throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates([try certificate()])
        return configuration
    }
}
