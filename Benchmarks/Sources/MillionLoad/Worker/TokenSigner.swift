import Crypto
import Foundation

/// Mints the HS256 tokens the nodes accept (`SWITCHBOARD_HMAC_SECRETS`), one per client as it connects:
/// a load generator's users each have their own identity, as real users do.
struct TokenSigner {
    private let key: SymmetricKey
    private let header = Self.base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))

    init(secret: String) {
        self.key = SymmetricKey(data: Data(secret.utf8))
    }

    func token(user: String, expiresAt: Int) -> String {
        let payload = Self.base64URL(Data(#"{"exp":\#(expiresAt),"sub":"\#(user)"}"#.utf8))
        let signingInput = self.header + "." + payload
        let signature = HMAC<SHA256>.authenticationCode(for: Data(signingInput.utf8), using: self.key)
        return signingInput + "." + Self.base64URL(Data(signature))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
