import ArgumentParser

/// The million-user load generator: `run` drives the whole benchmark and starts `worker` processes, each
/// holding up to ~19,000 clients.
@main
struct MillionLoad: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "MillionLoad",
        abstract: "Hold many WebSocket users against Switchboard nodes and measure what they get.",
        subcommands: [RunCommand.self, WorkerCommand.self],
        defaultSubcommand: RunCommand.self)
}
