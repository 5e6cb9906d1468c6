/// Why a permessage-deflate (RFC 7692) codec gave up on a message.
///
/// A struct wrapping a private code rather than a public enum, so kinds can be added without breaking
/// callers; compare with `==` or match with `case .messageTooLarge:`. Every failure is final for the
/// stream it came from: the connection is expected to close, and the codec is not reusable afterwards.
///
/// Whose fault it is, and the close code the connection engine sends (RFC 6455 §7.4.1):
/// - ``messageTooLarge``: the peer's. The inflated message would exceed the configured limit → 1009.
/// - ``corruptData``: the peer's. The payload is not a valid DEFLATE stream → 1007 (or 1002).
/// - ``compressorFailure``: ours or the host's (zlib could not allocate or reported an inconsistent
///   stream) → 1011.
public struct DeflateFailure: Error, Sendable, Hashable, CustomStringConvertible {
    private enum Code: Sendable, Hashable {
        case messageTooLarge
        case corruptData
        case compressorFailure
    }

    private let code: Code

    private init(_ code: Code) {
        self.code = code
    }

    /// The decompressed message would be larger than the limit the caller allowed.
    ///
    /// Raised as soon as one byte past the limit has been inflated, so a decompression bomb costs at
    /// most the limit (plus a bounded overshoot of a few kilobytes) in memory and CPU.
    public static let messageTooLarge = DeflateFailure(.messageTooLarge)

    /// The compressed payload is not valid DEFLATE data (RFC 1951), or it references history beyond
    /// the negotiated LZ77 window.
    public static let corruptData = DeflateFailure(.corruptData)

    /// zlib failed for a reason that is not the peer's: out of memory, or an inconsistent stream state.
    public static let compressorFailure = DeflateFailure(.compressorFailure)

    public var description: String {
        switch self.code {
        case .messageTooLarge: "DeflateFailure.messageTooLarge"
        case .corruptData: "DeflateFailure.corruptData"
        case .compressorFailure: "DeflateFailure.compressorFailure"
        }
    }
}
