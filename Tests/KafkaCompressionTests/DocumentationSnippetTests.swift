import KafkaCompression
import NIOCore
import Testing

// The code of the KafkaCompression DocC catalog (Sources/KafkaCompression/Documentation.docc); see
// `scripts/check-doc-snippets.py`. It runs: it needs no broker.

@Suite("Documentation snippets: KafkaCompression")
struct KafkaCompressionDocumentationSnippets {
    @Test func roundTrip() throws {
        let workspace = CompressionWorkspace()
        let original = ByteBuffer(string: String(repeating: "a Kafka record ", count: 100))
        let compressed = try workspace.compress(original, codec: .zstd, level: 3)
        let restored = try workspace.decompress(compressed, codec: .zstd, maxOutputBytes: 1 << 20)
        assert(restored == original)
        #expect(restored == original && compressed.readableBytes < original.readableBytes)
    }
}
