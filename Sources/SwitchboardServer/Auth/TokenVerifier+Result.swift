import Foundation

extension TokenVerifier {
    /// ``verify(_:now:)`` as a value.
    func check(_ token: String?, now: Date) -> Result<Credentials, TokenError> {
        Result { () throws(TokenError) in try self.verify(token, now: now) }
    }
}
