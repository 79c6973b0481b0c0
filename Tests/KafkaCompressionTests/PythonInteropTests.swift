import KafkaCompression
import NIOCore
import Testing

/// Our compressed output, decoded by kafka-python's `kafka.codec` decoders (what its consumer runs).
///
/// Needs `python3` with kafka-python, lz4, zstandard and python-snappy. Without them the suite is skipped
/// with a message, except under CI (`CI` set), where that is a failure.
@Suite(
    "Decoded by kafka-python",
    .enabled("python3 with kafka-python, lz4, zstandard and python-snappy not found: skipping the kafka-python interop tests") {
        if PythonDecoder.isCI { return true }
        return await PythonDecoder.isAvailable
    }
)
struct PythonInteropTests {
    static let sizes = [0, 1, 1000, 64 * 1024 + 1, 300 * 1024]

    static func levels(for codec: CompressionCodec) -> [Int?] {
        switch codec {
        case .gzip: [nil, 1, 9]
        case .lz4: [nil, 9]
        case .zstd: [nil, -5, 19]
        case .none, .snappy: [nil]
        }
    }

    @Test("kafka-python decodes what we compress", arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd], sizes)
    func pythonDecodes(codec: CompressionCodec, size: Int) async throws {
        guard await PythonDecoder.isAvailable else {
            Issue.record("CI is set but python3 with kafka-python and its codec libraries is not available")
            return
        }
        let workspace = CompressionWorkspace()
        let inputs = [
            TestData.compressible(count: size, seed: UInt64(size) &+ 31),
            TestData.random(count: size, seed: UInt64(size) &+ 32),
        ]
        for input in inputs {
            for level in Self.levels(for: codec) {
                let compressed = try workspace.compress(ByteBuffer(bytes: input), codec: codec, level: level)
                let decoded = try await PythonDecoder.decode(compressed.bytes, codec: codec)
                #expect(decoded == input, "\(codec) level \(String(describing: level)) size \(size)")
            }
        }
    }
}
