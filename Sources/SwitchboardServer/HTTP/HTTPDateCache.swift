import Foundation
import NIOConcurrencyHelpers

/// The value of the `Date` response field, formatted at most once a second.
///
/// RFC 9110 §6.6.1: "An origin server with a clock ... MUST generate a Date header field" in 2xx, 3xx and
/// 4xx responses. Formatting per response would cost more than the rest of a health check; the text only
/// changes once a second.
final class HTTPDateCache: Sendable {
    private struct Cached {
        var second: Int
        var text: String
    }

    private let cached = NIOLockedValueBox(Cached(second: .min, text: ""))

    /// Now, as an IMF-fixdate.
    var current: String {
        let second = Int(Date().timeIntervalSince1970.rounded(.down))
        return self.cached.withLockedValue { cached in
            if cached.second != second {
                cached = Cached(second: second, text: Self.imfFixdate(secondsSince1970: second))
            }
            return cached.text
        }
    }

    /// RFC 9110 §5.6.7: `IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT`, e.g.
    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func imfFixdate(secondsSince1970 seconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        // 1 January 1970 was a Thursday.
        let weekday = ((days % 7) + 7 + 4) % 7
        let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(dayNames[weekday]), \(twoDigits(day)) \(monthNames[month - 1]) \(year) "
            + "\(twoDigits(secondOfDay / 3600)):\(twoDigits(secondOfDay / 60 % 60)):\(twoDigits(secondOfDay % 60)) GMT"
    }

    private static func twoDigits(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    /// The proleptic Gregorian date of a day count (Howard Hinnant's `civil_from_days`: eras of 400 years,
    /// years starting in March so that the leap day comes last).
    private static func civilDate(daysSince1970: Int) -> (year: Int, month: Int, day: Int) {
        let z = daysSince1970 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
