import KafkaCompression
import NIOCore
import Testing

/// Decodes data written by independent implementations (see `Fixtures/make_fixtures.py`).
@Suite("Golden fixtures from other implementations")
struct InteropFixtureTests {
    struct Fixture: CustomTestStringConvertible, Sendable {
        var file: String
        var codec: CompressionCodec
        var original: String
        var testDescription: String { file }
    }

    static let fixtures: [Fixture] = {
        var list: [Fixture] = []
        for name in ["records", "short"] {
            let raw = "\(name).raw"
            list += [
                Fixture(file: "\(name).gzip", codec: .gzip, original: raw),
                Fixture(file: "\(name).snappy-xerial", codec: .snappy, original: raw),
                Fixture(file: "\(name).snappy-raw", codec: .snappy, original: raw),
                Fixture(file: "\(name).lz4", codec: .lz4, original: raw),
                Fixture(file: "\(name).lz4-checksums", codec: .lz4, original: raw),
                Fixture(file: "\(name).lz4-linked", codec: .lz4, original: raw),
                Fixture(file: "\(name).lz4-java", codec: .lz4, original: raw),
                Fixture(file: "\(name).zstd", codec: .zstd, original: raw),
                Fixture(file: "\(name).zstd-nosize", codec: .zstd, original: raw),
            ]
        }
        list += [
            Fixture(file: "short.zlib", codec: .gzip, original: "short.raw"),
            Fixture(file: "concat.gzip", codec: .gzip, original: "concat.raw"),
            Fixture(file: "concat.zstd", codec: .zstd, original: "concat.raw"),
            Fixture(file: "concat.lz4", codec: .lz4, original: "concat.raw"),
            Fixture(file: "concat.snappy-xerial", codec: .snappy, original: "concat.raw"),
        ]
        return list
    }()

    @Test("decodes the fixture to the original bytes", arguments: fixtures)
    func decodes(_ fixture: Fixture) throws {
        let compressed = try Fixtures.load(fixture.file)
        let original = try Fixtures.load(fixture.original)
        let restored = try CompressionWorkspace.decompress(
            ByteBuffer(bytes: compressed), codec: fixture.codec, maxOutputBytes: original.count
        )
        #expect(restored.bytes == original)

        // One byte short of the real size must be refused, not truncated.
        let error = compressionError {
            _ = try CompressionWorkspace.decompress(
                ByteBuffer(bytes: compressed), codec: fixture.codec, maxOutputBytes: original.count - 1
            )
        }
        #expect(error?.isOutputLimitExceeded == true)
    }

    @Test("our framing matches the independent encoders' framing")
    func sameFraming() throws {
        let workspace = CompressionWorkspace()
        for name in ["records", "short"] {
            let original = ByteBuffer(bytes: try Fixtures.load("\(name).raw"))
            // Block contents may differ between library versions, so compare the framing only: the xerial
            // header and chunk count as kafka-python writes them (which is what snappy-java writes), and the
            // LZ4 frame descriptor python-lz4 writes with Java's settings.
            let snappy = try workspace.compress(original, codec: .snappy).bytes
            let referenceSnappy = try Fixtures.load("\(name).snappy-xerial")
            #expect(snappy.prefix(16) == referenceSnappy.prefix(16), "\(name) snappy header")
            #expect(try FrameWalker.xerialChunks(snappy).count == FrameWalker.xerialChunks(referenceSnappy).count)

            let lz4 = try workspace.compress(original, codec: .lz4).bytes
            let referenceLZ4 = try Fixtures.load("\(name).lz4-java")
            #expect(lz4.prefix(7) == referenceLZ4.prefix(7), "\(name) lz4 descriptor")
            #expect(try FrameWalker.lz4Blocks(lz4).count == FrameWalker.lz4Blocks(referenceLZ4).count)
        }
    }

    @Test("a gzip stream followed by zero padding decodes")
    func gzipZeroPadding() throws {
        var compressed = try Fixtures.load("short.gzip")
        compressed += [UInt8](repeating: 0, count: 7)
        let restored = try CompressionWorkspace.decompress(ByteBuffer(bytes: compressed), codec: .gzip, maxOutputBytes: 100)
        #expect(restored.bytes == (try Fixtures.load("short.raw")))
    }

    @Test("trailing garbage after a gzip member is an error")
    func gzipTrailingGarbage() throws {
        var compressed = try Fixtures.load("short.gzip")
        compressed += [0x42, 0x42, 0x42]
        let error = compressionError {
            _ = try CompressionWorkspace.decompress(ByteBuffer(bytes: compressed), codec: .gzip, maxOutputBytes: 100)
        }
        #expect(error?.isCorruptInput == true)
    }

    @Test("xerial framing with little-endian version fields still decodes")
    func xerialVersionByteOrder() throws {
        var compressed = try Fixtures.load("short.snappy-xerial")
        // Some producers write the two version ints little-endian; readers ignore them.
        compressed.replaceSubrange(8..<16, with: [1, 0, 0, 0, 1, 0, 0, 0])
        let restored = try CompressionWorkspace.decompress(ByteBuffer(bytes: compressed), codec: .snappy, maxOutputBytes: 100)
        #expect(restored.bytes == (try Fixtures.load("short.raw")))
    }
}
