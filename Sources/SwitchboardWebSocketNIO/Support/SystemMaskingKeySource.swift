import Crypto
import SwitchboardWebSocket

/// Masking keys from a cryptographic generator (RFC 6455 §10.3: keys must be unpredictable to the peer's
/// intermediaries).
///
/// Draws 64 keys at a time from BoringSSL's CSPRNG (via swift-crypto) rather than one system call per frame.
struct SystemMaskingKeySource: MaskingKeySource {
    private var keys: [UInt32] = []

    mutating func nextMaskingKey() -> MaskingKey {
        if self.keys.isEmpty {
            let random = SymmetricKey(size: SymmetricKeySize(bitCount: 64 * 32))
            self.keys = random.withUnsafeBytes { Array($0.bindMemory(to: UInt32.self)) }
        }
        return MaskingKey(randomBits: self.keys.removeLast())
    }
}
