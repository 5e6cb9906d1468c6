#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix

/// Why a TCP connect failed, as a person reads it ("connection refused", "timed out after 10 s"), instead of
/// the nested values NIO's errors print (`Connection errors: SingleConnectionFailure(target: …, error: …)`).
///
/// The fault is usually the caller's or the network's (nothing listening, a wrong host), so the words name
/// the outcome, and the caller adds where it tried to connect.
public enum ConnectFailure {
    /// `error` as a NIO `ClientBootstrap.connect` throws it; anything else is described as it describes itself.
    public static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            // Happy Eyeballs tried every address: say each distinct reason once (IPv4 and IPv6 usually agree).
            var reasons: [String] = []
            for failure in error.connectionErrors {
                let reason = Self.reason(failure.error)
                if !reasons.contains(reason) { reasons.append(reason) }
            }
            if !reasons.isEmpty { return reasons.joined(separator: "; ") }
            if error.dnsAError != nil || error.dnsAAAAError != nil { return "cannot resolve the host name \(error.host)" }
            return "no address for \(error.host)"
        case let error as IOError:
            // strerror's "Connection refused", in the lower case of a clause inside a sentence.
            let text = String(cString: strerror(error.errnoCode))
            return text.prefix(1).lowercased() + text.dropFirst()
        case ChannelError.connectTimeout(let timeout):
            return "timed out after \(timeout.spokenDuration)"
        default:
            return "\(error)"
        }
    }
}

extension TimeAmount {
    /// Whole seconds read as seconds; anything finer in milliseconds (a 500 ms timeout is not "0 s").
    var spokenDuration: String {
        let nanoseconds = self.nanoseconds
        return nanoseconds % 1_000_000_000 == 0 ? "\(nanoseconds / 1_000_000_000) s" : "\(nanoseconds / 1_000_000) ms"
    }
}
