import Crypto
import Foundation
import Testing

/// The generated protobuf code is the schema's: proto/generate.sh records the SHA-256 of the schema and of the
/// code it generated from it, and a schema changed without regenerating (or generated code edited by hand)
/// no longer matches. CI cannot regenerate (protoc-gen-swift takes ten minutes to build), so it checks this.
@Suite struct ProtobufSchemaTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test func theGeneratedCodeIsTheCommittedSchemas() throws {
        let recorded = try String(contentsOf: Self.root.appendingPathComponent("proto/switchboard/v1/switchboard.sha256"), encoding: .utf8)
        var checked = 0
        for line in recorded.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2 else { continue }
            let path = fields[1].trimmingCharacters(in: CharacterSet(charactersIn: " *"))
            let bytes = try Data(contentsOf: Self.root.appendingPathComponent(path))
            let digest = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
            #expect(digest == String(fields[0]), "\(path) changed since proto/generate.sh ran: run it again")
            checked += 1
        }
        #expect(checked == 2, "proto/switchboard/v1/switchboard.sha256 should name the schema and the generated code")
    }
}
