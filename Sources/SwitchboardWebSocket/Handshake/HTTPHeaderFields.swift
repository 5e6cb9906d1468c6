/// HTTP header fields in arrival order, looked up case-insensitively (RFC 9110 §5.1).
///
/// The engine's own type, so the handshake works on any transport's HTTP representation.
public struct HTTPHeaderFields: Sendable, Hashable, Sequence {
    public typealias Element = (name: String, value: String)

    @usableFromInline
    var fields: [Field]

    @usableFromInline
    struct Field: Sendable, Hashable {
        var name: String
        var value: String
    }

    public init() { self.fields = [] }

    public init(_ fields: [(String, String)]) {
        self.fields = fields.map { Field(name: $0.0, value: $0.1) }
    }

    public mutating func add(name: String, value: String) {
        self.fields.append(Field(name: name, value: value))
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        self.fields.lazy.filter { $0.name.utf8.count == name.utf8.count && $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The first value of `name`, or nil.
    public func first(_ name: String) -> String? {
        let lowered = name.lowercased()
        return self.fields.first { $0.name.utf8.count == lowered.utf8.count && $0.name.lowercased() == lowered }?.value
    }

    public func contains(_ name: String) -> Bool { self.first(name) != nil }

    /// The elements of the comma-separated list field `name` over all its lines (RFC 9110 §5.6.1), trimmed
    /// of whitespace, empty elements skipped.
    public func listElements(_ name: String) -> [Substring] {
        HTTPGrammar.listElements(self.values(for: name))
    }

    /// Whether the list field `name` has the element `token`, compared ASCII case-insensitively (as
    /// `Connection` options, `Upgrade` protocols and transfer codings are).
    public func listContainsToken(_ name: String, _ token: String) -> Bool {
        HTTPGrammar.listContainsToken(self.values(for: name), token)
    }

    public var count: Int { self.fields.count }

    public func makeIterator() -> AnyIterator<Element> {
        var iterator = self.fields.makeIterator()
        return AnyIterator { iterator.next().map { (name: $0.name, value: $0.value) } }
    }
}
