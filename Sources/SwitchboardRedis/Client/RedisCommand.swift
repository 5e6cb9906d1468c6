import NIOCore

/// A command and its arguments, as Redis receives them: an array of bulk strings.
public struct RedisCommand: Sendable, Hashable, CustomStringConvertible {
    public var arguments: [String]

    public init(_ name: String, _ arguments: [String] = []) {
        self.arguments = [name] + arguments
    }

    public init(arguments: [String]) {
        precondition(!arguments.isEmpty, "a Redis command needs a name")
        self.arguments = arguments
    }

    /// The command's name only: arguments may be application data that does not belong in logs.
    public var description: String { self.arguments.first ?? "" }

    func encode(into buffer: inout ByteBuffer) {
        RESPEncoder.encodeCommand(self.arguments, into: &buffer)
    }
}
