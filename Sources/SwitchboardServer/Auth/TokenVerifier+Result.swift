import Foundation

extension TokenVerifier {
    /// ``verify(_:now:)`` as a value, for callers that hop between event loops and tasks.
    func check(_ token: String?, now: Date) async -> Result<Credentials, TokenError> {
        do {
            return .success(try await self.verify(token, now: now))
        } catch {
            return .failure(error)
        }
    }
}
