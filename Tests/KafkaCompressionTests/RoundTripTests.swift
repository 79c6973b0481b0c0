import KafkaCompression
import NIOCore
import Testing

@Suite("Round trips")
struct RoundTripTests {
    static let sizes = [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 1024 * 1024]

    static func levels(for codec: CompressionCodec) -> [Int?] {
        switch codec {
        case .none, .snappy: [nil]
        case .gzip: [nil, -1, 0, 1, 9]
        case .lz4: [nil, -5, 1, 3, 9, 12, 17]
        case .zstd: [nil, -5, 0, 1, 9, 19]
        }
    }

    @Test("compress then decompress restores the input", arguments: CompressionCodec.allCases, sizes)
    func roundTrip(codec: CompressionCodec, size: Int) throws {
        let workspace = CompressionWorkspace()
        let inputs = [
            TestData.random(count: size, seed: UInt64(size) &+ 1),
            TestData.compressible(count: size, seed: UInt64(size) &+ 2),
        ]
        for input in inputs {
            for level in Self.levels(for: codec) {
                var compressed = ByteBuffer()
                try input.withUnsafeBytes { bytes in
                    try workspace.compress(bytes, codec: codec, level: level, into: &compressed)
                }
                // Exactly the original size is allowed; the limit is inclusive.
                let restored = try workspace.decompress(compressed, codec: codec, maxOutputBytes: size)
                #expect(restored.readableBytes == size, "codec \(codec) level \(String(describing: level))")
                #expect(restored.bytes == input, "codec \(codec) level \(String(describing: level))")
            }
        }
    }

    @Test("compressible data actually shrinks", arguments: [CompressionCodec.gzip, .snappy, .lz4, .zstd])
    func compressibleDataShrinks(codec: CompressionCodec) throws {
        let input = ByteBuffer(bytes: TestData.compressible(count: 256 * 1024, seed: 7))
        let compressed = try CompressionWorkspace.compress(input, codec: codec)
        #expect(compressed.readableBytes < input.readableBytes / 2)
    }

    @Test("output is appended after existing bytes and the input buffer is not consumed", arguments: CompressionCodec.allCases)
    func appendsToOutput(codec: CompressionCodec) throws {
        let workspace = CompressionWorkspace()
        let payload = TestData.compressible(count: 5000, seed: 3)
        let input = ByteBuffer(bytes: payload)

        var compressed = ByteBuffer(bytes: [0xAA, 0xBB])
        try workspace.compress(input, codec: codec, into: &compressed)
        #expect(input.readableBytes == payload.count)
        #expect(compressed.bytes.prefix(2) == [0xAA, 0xBB])

        compressed.moveReaderIndex(forwardBy: 2)
        var restored = ByteBuffer(bytes: [0x01])
        try workspace.decompress(compressed, codec: codec, maxOutputBytes: payload.count, into: &restored)
        #expect(compressed.readableBytes > 0)
        #expect(restored.bytes == [0x01] + payload)
    }

    @Test("one workspace serves every codec, many times, including after failures")
    func workspaceReuse() throws {
        let workspace = CompressionWorkspace()
        for round in 0..<20 {
            for codec in CompressionCodec.allCases {
                let payload = TestData.compressible(count: 1000 + round * 997, seed: UInt64(round))
                let compressed = try workspace.compress(ByteBuffer(bytes: payload), codec: codec, level: nil)
                if codec != .none {
                    // Leave the decoder mid-stream: a truncated input and a too-small limit.
                    let truncated = compressed.getSlice(at: compressed.readerIndex, length: compressed.readableBytes / 2)!
                    #expect(throws: CompressionError.self) {
                        try workspace.decompress(truncated, codec: codec, maxOutputBytes: 1 << 20)
                    }
                }
                #expect(throws: CompressionError.self) {
                    try workspace.decompress(compressed, codec: codec, maxOutputBytes: payload.count - 1)
                }
                let restored = try workspace.decompress(compressed, codec: codec, maxOutputBytes: payload.count)
                #expect(restored.bytes == payload)
            }
        }
    }

    @Test("alternating levels on one workspace gives the same bytes as fresh workspaces", arguments: [CompressionCodec.gzip, .lz4, .zstd])
    func levelChangesOnReusedContexts(codec: CompressionCodec) throws {
        let shared = CompressionWorkspace()
        let input = ByteBuffer(bytes: TestData.compressible(count: 100_000, seed: 11))
        for level in [1, 9, 1, 6, 9] {
            let reused = try shared.compress(input, codec: codec, level: level)
            let fresh = try CompressionWorkspace.compress(input, codec: codec, level: level)
            #expect(reused == fresh, "level \(level)")
        }
    }

    @Test("unsupported levels are rejected", arguments: [
        (CompressionCodec.gzip, 10), (.gzip, -2), (.lz4, 18), (.lz4, -70000), (.zstd, 23), (.zstd, Int.min),
    ])
    func unsupportedLevels(codec: CompressionCodec, level: Int) {
        let error = compressionError {
            _ = try CompressionWorkspace.compress(ByteBuffer(bytes: [1, 2, 3]), codec: codec, level: level)
        }
        #expect(error == CompressionError(codec: codec, reason: .unsupportedLevel(level)))
    }

    @Test("levels are ignored by codecs that have none", arguments: [CompressionCodec.none, .snappy])
    func levelIgnored(codec: CompressionCodec) throws {
        let input = ByteBuffer(bytes: TestData.compressible(count: 3000, seed: 5))
        let withLevel = try CompressionWorkspace.compress(input, codec: codec, level: 42)
        #expect(withLevel == (try CompressionWorkspace.compress(input, codec: codec)))
    }
}

@Suite("Codec names")
struct CodecNameTests {
    @Test func namesRoundTrip() {
        for codec in CompressionCodec.allCases {
            #expect(CompressionCodec(name: codec.description) == codec)
            #expect(CompressionCodec(name: codec.description.uppercased()) == codec)
        }
        #expect(CompressionCodec.allCases.map(\.description) == ["none", "gzip", "snappy", "lz4", "zstd"])
        #expect(CompressionCodec(name: "lz5") == nil)
        #expect(CompressionCodec(name: "") == nil)
    }

    @Test func attributes() {
        #expect(CompressionCodec(attributes: 0) == CompressionCodec.none)
        #expect(CompressionCodec(attributes: 0b1_0100) == .zstd)  // transactional bit set as well
        #expect(CompressionCodec(attributes: 0b0010_0011) == .lz4)
        #expect(CompressionCodec(attributes: 5) == nil)
        #expect(CompressionCodec(attributes: 7) == nil)
        #expect(CompressionCodec.allCases.map(\.rawValue) == [0, 1, 2, 3, 4])
    }

    @Test func errorDescriptions() {
        #expect("\(CompressionError.outputLimitExceeded(.zstd, limit: 10))".contains("zstd"))
        #expect("\(CompressionError.corruptInput(.lz4, "bad magic"))".contains("bad magic"))
        #expect("\(CompressionError.libraryFailure(.gzip, "oops", code: -4))".contains("-4"))
    }
}
