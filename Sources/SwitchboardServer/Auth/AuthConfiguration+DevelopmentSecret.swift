import Crypto

extension AuthConfiguration {
    /// A fresh HS256 secret (256 random bits, base64url) for a node started without keys: nobody can guess
    /// it, and it changes with every start, so tokens minted with it never outlive the development node.
    public static func generateDevelopmentSecret() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Base64URL.encode($0) }
    }
}
