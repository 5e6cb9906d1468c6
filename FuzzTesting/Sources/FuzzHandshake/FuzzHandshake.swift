import NIOCore
@testable import SwitchboardWebSocket

// Feeds arbitrary bytes to the opening-handshake code and checks what must hold for any input:
// - `HTTPHeadParser` (request and response) never traps, gives the same result whole and in chunks, leaves
//   the same bytes unread after a complete head, and consumes everything when it answers `.needMoreBytes`;
// - a parsed request written back and parsed again is the same request (and likewise for responses);
// - `ServerHandshake.accept` never traps; its 101 or its rejection, written out, parses back to itself, and
//   a 101 is accepted by a `ClientHandshake` with the request's key (the server only agrees to what the
//   client offered);
// - `ClientHandshake.validate` never traps on a parsed response;
// - `WebSocketExtension.parse` never traps, and what it returns, written as a header, parses back to itself.
//
// Input layout: byte 0 seeds the chunking and the size limit, the rest is the head.

func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("Invariant broken: \(message())") }
}

struct Outcome: Equatable {
    var result: HTTPHeadParser.Result
    var unread: [UInt8]
}

/// Parses `bytes` fed in pieces of `sizes` (the last piece takes the rest).
func parse(_ bytes: [UInt8], kind: HTTPHeadParser.Kind, maximumSize: Int, sizes: [Int]) -> Outcome {
    var parser = HTTPHeadParser(kind: kind, maximumSize: maximumSize, maximumFieldCount: 32)
    var offset = 0
    var index = 0
    while offset < bytes.count {
        let size = index < sizes.count ? min(sizes[index], bytes.count - offset) : bytes.count - offset
        index += 1
        var buffer = ByteBuffer(bytes: bytes[offset..<(offset + size)])
        offset += size
        let result = parser.parse(&buffer)
        switch result {
        case .needMoreBytes:
            check(buffer.readableBytes == 0, "needMoreBytes left \(buffer.readableBytes) bytes unread")
        case .failure:
            // The connection is closed after a failure: what was consumed does not matter.
            var again = ByteBuffer(bytes: [0x0D, 0x0A])
            check(parser.parse(&again) == result && again.readableBytes == 2, "a finished parser must not consume")
            return Outcome(result: result, unread: [])
        case .request, .response:
            var again = ByteBuffer(bytes: [0x0D, 0x0A])
            check(parser.parse(&again) == result && again.readableBytes == 2, "a finished parser must not consume")
            return Outcome(result: result, unread: Array(buffer.readableBytesView) + Array(bytes[offset...]))
        }
    }
    return Outcome(result: .needMoreBytes, unread: [])
}

func chunkSizes(count: Int, seed: UInt8) -> [Int] {
    var state = UInt32(seed) | 0x100
    var sizes: [Int] = []
    var total = 0
    while total < count {
        state = state &* 1_664_525 &+ 1_013_904_223
        let size = seed & 1 == 0 ? 1 : 1 + Int(state >> 16) % 13
        sizes.append(size)
        total += size
    }
    return sizes
}

func reparse(_ written: ByteBuffer, kind: HTTPHeadParser.Kind) -> HTTPHeadParser.Result {
    var buffer = written
    var parser = HTTPHeadParser(kind: kind, maximumSize: 1 << 20, maximumFieldCount: 1 << 10)
    let result = parser.parse(&buffer)
    check(buffer.readableBytes == 0, "a written head parses with bytes left over")
    return result
}

let serverConfigurations = [
    ServerHandshake.Configuration(),
    ServerHandshake.Configuration(subprotocols: ["chat", "superchat"], deflate: PerMessageDeflateConfiguration()),
    ServerHandshake.Configuration(subprotocols: ["v2.switchboard"], deflate: PerMessageDeflateConfiguration(
        requestServerNoContextTakeover: true, requestClientNoContextTakeover: true,
        serverMaxWindowBits: 9, clientMaxWindowBits: 8)),
]

func checkRequest(_ request: HandshakeRequest) {
    var written = ByteBuffer()
    request.write(into: &written)
    check(reparse(written, kind: .request) == .request(request), "a request written back parses differently")

    let offered = HTTPGrammar.listElements(request.headers.values(for: "Sec-WebSocket-Protocol")).map(String.init)
    for configuration in serverConfigurations {
        switch ServerHandshake.accept(request, configuration: configuration) {
        case .success(let acceptance):
            var head = ByteBuffer()
            acceptance.write(into: &head)
            guard case .response(let response) = reparse(head, kind: .response) else {
                fatalError("Invariant broken: the 101 we wrote does not parse")
            }
            check(response == acceptance.response, "the 101 we wrote parses differently")
            check(response.status == 101, "an acceptance that is not a 101")
            if let deflate = acceptance.deflate {
                check((8...15).contains(deflate.serverMaxWindowBits) && (8...15).contains(deflate.clientMaxWindowBits),
                      "agreed window bits out of range: \(deflate)")
            }
            // A client that sent this request's key and subprotocols accepts the 101 (the accept key and
            // the chosen subprotocol must match). Deflate is left out here: whether the client takes the
            // server's parameters depends on the exact offer, which the client side tests cover.
            let key = request.headers.first("Sec-WebSocket-Key")!
            var plain = response
            plain.headers = HTTPHeaderFields(response.headers.filter {
                !HTTPGrammar.asciiCaseInsensitiveEquals($0.name, "Sec-WebSocket-Extensions")
            }.map { ($0.name, $0.value) })
            let client = ClientHandshake(host: "h", target: "/", key: key, subprotocols: offered)
            switch client.validate(plain) {
            case .success(let agreement):
                check(agreement.subprotocol == acceptance.subprotocol, "client and server disagree on the subprotocol")
                check(agreement.deflate == nil, "deflate agreed without an extension header")
            case .failure(let error):
                fatalError("Invariant broken: a client refuses the server's 101: \(error)")
            }
        case .failure(let rejection):
            check((400...599).contains(rejection.status), "rejection with status \(rejection.status)")
            var head = ByteBuffer()
            rejection.write(into: &head)
            var parser = HTTPHeadParser(kind: .response, maximumSize: 1 << 20, maximumFieldCount: 1 << 10)
            guard case .response(let response) = parser.parse(&head) else {
                fatalError("Invariant broken: the rejection we wrote does not parse")
            }
            check(response.status == rejection.status, "the rejection we wrote has another status")
            check(head.readableBytes == rejection.body.utf8.count, "the rejection body is not what follows the head")
        }
    }
}

func checkResponse(_ response: HandshakeResponse) {
    var written = ByteBuffer()
    response.write(into: &written)
    check(reparse(written, kind: .response) == .response(response), "a response written back parses differently")
    let key = "dGhlIHNhbXBsZSBub25jZQ=="
    let clients = [
        ClientHandshake(host: "server.example.com", target: "/chat", key: key),
        ClientHandshake(host: "server.example.com", target: "/chat", key: key, subprotocols: ["chat", "superchat"],
                        deflate: PerMessageDeflateConfiguration()),
        ClientHandshake(host: "h", target: "/", key: key, deflate: PerMessageDeflateConfiguration(
            requestServerNoContextTakeover: true, requestClientNoContextTakeover: true,
            serverMaxWindowBits: 10, clientMaxWindowBits: 9)),
    ]
    for client in clients {
        if case .success(let agreement) = client.validate(response), let deflate = agreement.deflate {
            check((8...15).contains(deflate.serverMaxWindowBits) && (8...15).contains(deflate.clientMaxWindowBits),
                  "agreed window bits out of range: \(deflate)")
            check(client.deflate != nil, "deflate agreed without an offer")
        }
    }
}

func checkExtensions(_ values: [String]) {
    guard let parsed = WebSocketExtension.parse(headerValues: values) else { return }
    let written = WebSocketExtension.headerValue(of: parsed)
    check(WebSocketExtension.parse(headerValues: [written]) == parsed,
          "extensions written back parse differently: \(values) → \(written)")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    guard count >= 1 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let seed = bytes[0]
    let head = Array(bytes[1...])
    // A small limit now and then, so the 431 paths are reached with short inputs.
    let maximumSize = seed & 0x80 != 0 ? 64 + Int(seed & 0x3F) * 4 : 8192
    let sizes = chunkSizes(count: head.count, seed: seed)
    for kind in [HTTPHeadParser.Kind.request, .response] {
        let whole = parse(head, kind: kind, maximumSize: maximumSize, sizes: [head.count])
        let pieces = parse(head, kind: kind, maximumSize: maximumSize, sizes: sizes)
        check(whole == pieces, "\(kind): whole and chunked parses differ:\n\(whole)\nvs\n\(pieces)")
        switch whole.result {
        case .request(let request):
            checkRequest(request)
            checkExtensions(request.headers.values(for: "Sec-WebSocket-Extensions"))
        case .response(let response):
            checkResponse(response)
            checkExtensions(response.headers.values(for: "Sec-WebSocket-Extensions"))
        case .needMoreBytes, .failure:
            break
        }
    }
    // The extension grammar alone, on the raw bytes as one header value.
    checkExtensions([String(decoding: head, as: UTF8.self)])
    return 0
}
