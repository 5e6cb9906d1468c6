import Foundation

/// The verdicts in a kosoku `index.json`: `{agent: {case: {"behavior": ..., "behaviorClose": ...}}}`.
struct AutobahnReport {
    struct Verdict: Decodable {
        var behavior: String
        var behaviorClose: String
    }

    struct Case {
        var agent: String
        var id: String
        var verdict: Verdict

        /// Only OK and INFORMATIONAL pass, for the exchange and for the close. Stricter than kosoku's own
        /// exit status, which also lets NON-STRICT through: we validate UTF-8 at the first bad byte and
        /// expect to keep doing so.
        var passed: Bool {
            let acceptable: Set = ["OK", "INFORMATIONAL"]
            return acceptable.contains(self.verdict.behavior) && acceptable.contains(self.verdict.behaviorClose)
        }

        /// "1.1.1" → [1, 1, 1], so "9.10" sorts after "9.9".
        var sortKey: [Int] { self.id.split(separator: ".").map { Int($0) ?? 0 } }
        var category: Int { self.sortKey.first ?? 0 }
    }

    let cases: [Case]

    init(indexAt url: URL) throws {
        let data = try Data(contentsOf: url)
        let index = try JSONDecoder().decode([String: [String: Verdict]].self, from: data)
        self.cases = index.flatMap { agent, cases in
            cases.map { Case(agent: agent, id: $0.key, verdict: $0.value) }
        }.sorted { $0.sortKey.lexicographicallyPrecedes($1.sortKey) }
    }

    var agents: Set<String> { Set(self.cases.map(\.agent)) }
    var failures: [Case] { self.cases.filter { !$0.passed } }

    /// One line per failing case, e.g. `6.4.1: behavior NON-STRICT, behaviorClose OK`.
    var failureList: String {
        self.failures.map { "\($0.id): behavior \($0.verdict.behavior), behaviorClose \($0.verdict.behaviorClose)" }
            .joined(separator: "\n")
    }

    /// Per category, how many cases got each verdict: `9.*: 54 OK`.
    var summary: String {
        let categories = Dictionary(grouping: self.cases, by: \.category).sorted { $0.key < $1.key }
        let lines = categories.map { category, cases in
            let counts = Dictionary(grouping: cases) { $0.passed ? $0.verdict.behavior : "\($0.verdict.behavior)/\($0.verdict.behaviorClose)" }
                .mapValues(\.count).sorted { $0.key < $1.key }
            return "\(category).*: " + counts.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        }
        return "\(self.cases.count) cases\n" + lines.joined(separator: "\n")
    }

    /// The Autobahn categories (1 framing … 13 deflate parameters) that have at least one case here.
    static let expectedCategories: Set = [1, 2, 3, 4, 5, 6, 7, 9, 10, 12, 13]
    var missingCategories: [Int] { Self.expectedCategories.subtracting(self.cases.map(\.category)).sorted() }
}
