import Foundation

extension TokenVerifier {
    /// ``verify(_:now:)`` as a value.
    func check(_ token: String?, now: Date) -> Result<Credentials, TokenError> {
        do {
            return .success(try self.verify(token, now: now))
        } catch {
            return .failure(error)
        }
    }
}
