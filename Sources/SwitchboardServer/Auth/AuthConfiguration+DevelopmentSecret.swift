import Crypto

extension AuthConfiguration {
    /// A fresh HS256 secret (256 random bits, base64url) for a node started without keys: nobody can guess
    /// it. `switchboard` keeps it in a per-user file (mode 0600) so that its `token` command can sign with
    /// it too; where keeping it is not possible, it lasts one run.
    public static func generateDevelopmentSecret() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Base64URL.encode($0) }
    }
}
