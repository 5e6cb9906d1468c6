import ArgumentParser

@main
struct SwitchboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchboard",
        abstract: "A WebSocket system: a conformant RFC 6455 server and client, and tools around them.",
        subcommands: [ServeCommand.self, EchoCommand.self, ConnectCommand.self, PublishCommand.self, BenchCommand.self, TokenCommand.self]
    )
}
