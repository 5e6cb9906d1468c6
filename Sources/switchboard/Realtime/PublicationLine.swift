import SwitchboardClient
import SwitchboardProtocol

/// What `switchboard connect` prints on stdout for each publication: one JSON object per line, so its
/// output pipes into `jq` or a log. `publisher` is absent when a back-end published through the HTTP API.
struct PublicationLine: Encodable, Sendable, Hashable {
    var channel: String
    var offset: UInt64
    var epoch: String
    var data: JSONValue
    var publisher: ClientInfo?

    init(_ publication: ReceivedPublication<JSONValue>) {
        self.channel = publication.channel
        self.offset = publication.offset
        self.epoch = publication.epoch
        self.data = publication.value
        self.publisher = publication.publisher
    }

    var text: String { CommandLineJSON.line(self) }
}
