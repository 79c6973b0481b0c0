import KafkaCompression
import KafkaProtocol
import NIOCore
import Testing

// The code of the KafkaProtocol DocC catalog (Sources/KafkaProtocol/Documentation.docc); see
// `scripts/check-doc-snippets.py`. These run: they need no broker.

@Suite("Documentation snippets: KafkaProtocol")
struct KafkaProtocolDocumentationSnippets {
    @Test func encodeARequest() throws {
        var writer = WireWriter()
        let request = MetadataRequest(topics: [.init(name: "orders")], allowAutoTopicCreation: false)
        try KafkaFrame.writeRequest(request, version: 12, correlationId: 1, clientId: "my-app", into: &writer)
        let frame = writer.finishContiguous()          // size, request header, body
        #expect(frame.getInteger(at: frame.readerIndex, as: Int32.self) == Int32(frame.readableBytes - 4))
    }

    @Test func buildAndReadABatch() throws {
        var builder = RecordBatchBuilder()
        builder.append(timestamp: 1_767_225_600_000, key: ByteBuffer(string: "order-1"), value: ByteBuffer(string: "created"),
                       headers: [RecordHeader(key: "source", value: "checkout")])
        let bytes = try builder.build(compression: .lz4)

        var reader = RecordBatchReader(bytes)
        while let batch = try reader.next() {
            try batch.verifyChecksum()
            var records = try batch.records()
            while let record = try records.next() {
                print(record.offset, record.key.map { String(buffer: $0) } ?? "-", record.headers.count)
            }
        }

        var check = RecordBatchReader(bytes)
        let batch = try #require(try check.next())
        #expect(batch.compression == .lz4)
        #expect(try batch.allRecords().map { $0.value.map { String(buffer: $0) } } == ["created"])
    }
}
