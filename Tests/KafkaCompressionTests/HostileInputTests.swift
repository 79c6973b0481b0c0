import KafkaCompression
import NIOCore
import Testing
import KafkaTestSupport

/// Damaged, truncated, random and explosive inputs must end in a `CompressionError` (or, where the format
/// cannot tell, in bounded output), never in a trap or unbounded memory.
@Suite("Hostile input")
struct HostileInputTests {
    static let compressedCodecs: [CompressionCodec] = [.gzip, .snappy, .lz4, .zstd]

    /// Valid streams to damage: our own output plus the fixture variants other writers produce.
    static func validStreams(for codec: CompressionCodec) throws -> [(stream: [UInt8], original: [UInt8])] {
        let original = TestData.compressible(count: 40_000, seed: 41) + TestData.random(count: 2000, seed: 42)
        var streams = [(try CompressionWorkspace.compress(ByteBuffer(bytes: original), codec: codec).bytes, original)]
        let records = try Fixtures.load("records.raw")
        let variants: [String] = switch codec {
        case .gzip: ["records.gzip"]
        case .snappy: ["records.snappy-raw"]
        case .lz4: ["records.lz4-checksums", "records.lz4-linked"]
        case .zstd: ["records.zstd-nosize"]
        case .none: []
        }
        for variant in variants {
            streams.append((try Fixtures.load(variant), records))
        }
        return streams
    }

    @Test("empty input is corrupt", arguments: compressedCodecs)
    func emptyInput(codec: CompressionCodec) {
        let error = compressionError {
            _ = try CompressionWorkspace.decompress(ByteBuffer(), codec: codec, maxOutputBytes: 1000)
        }
        #expect(error?.isCorruptInput == true)
        #expect(error?.codec == codec)
    }

    @Test("truncated streams fail cleanly", arguments: compressedCodecs)
    func truncated(codec: CompressionCodec) throws {
        let workspace = CompressionWorkspace()
        for (stream, original) in try Self.validStreams(for: codec) {
            // About 60 cut points, always including the ones next to the ends.
            let step = max(1, stream.count / 60)
            let cuts = Set(Array(stride(from: 1, to: stream.count, by: step)) + [1, stream.count - 1])
            for cut in cuts.sorted() {
                var output = ByteBuffer(bytes: [0xEE])
                let error = compressionError {
                    try workspace.decompress(
                        ByteBuffer(bytes: stream.prefix(cut)), codec: codec, maxOutputBytes: original.count, into: &output
                    )
                }
                if let error {
                    #expect(error.isCorruptInput, "cut at \(cut): \(error)")
                    #expect(output.bytes == [0xEE], "a failed call leaves the output as it was")
                } else {
                    // Only xerial framing has no end marker: a cut on a chunk boundary is a shorter valid stream.
                    #expect(codec == .snappy, "\(codec) accepted a stream cut at \(cut) of \(stream.count)")
                    #expect(Array(output.bytes.dropFirst()) == Array(original.prefix(output.readableBytes - 1)))
                }
            }
        }
    }

    @Test("random garbage fails cleanly or yields bounded output", arguments: compressedCodecs)
    func garbage(codec: CompressionCodec) {
        let workspace = CompressionWorkspace()
        var generator = SeededGenerator(seed: 0xBAD5EED &+ UInt64(codec.rawValue))
        var failures = 0
        for round in 0..<200 {
            var bytes = TestData.random(count: Int(generator.next() % 2048) + 1, seed: generator.next())
            // Half the time, start with the format's magic so the decoder gets past the first check.
            if round % 2 == 0 {
                let magic: [UInt8] = switch codec {
                case .gzip: [0x1F, 0x8B, 0x08, 0x00]
                case .snappy: [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]
                case .lz4: [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82]
                case .zstd: [0x28, 0xB5, 0x2F, 0xFD]
                case .none: []
                }
                bytes = magic + bytes
            }
            do {
                let output = try workspace.decompress(ByteBuffer(bytes: bytes), codec: codec, maxOutputBytes: 64 * 1024)
                #expect(output.readableBytes <= 64 * 1024)
            } catch {
                failures += 1
            }
        }
        #expect(failures > 150, "almost all garbage should be rejected")
    }

    @Test("a decompression bomb stops at the limit", arguments: CompressionCodec.allCases)
    func bomb(codec: CompressionCodec) throws {
        let workspace = CompressionWorkspace()
        let zeros = ByteBuffer(repeating: 0, count: 50 * 1024 * 1024)
        let bomb = try workspace.compress(zeros, codec: codec)
        let limit = 1024 * 1024
        var output = ByteBuffer()
        let error = compressionError {
            try workspace.decompress(bomb, codec: codec, maxOutputBytes: limit, into: &output)
        }
        #expect(error == CompressionError.outputLimitExceeded(codec, limit: limit))
        #expect(output.readableBytes == 0)
        // The attempt never grew the output much beyond the limit.
        #expect(output.capacity <= 4 * limit)
    }

    @Test("a snappy block declaring a huge length is refused before allocating")
    func snappyDeclaredLengthChecked() {
        // Varint 0xFFFFFFFF, then a literal tag and a few bytes.
        let raw: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x41]
        var output = ByteBuffer()
        let error = compressionError {
            try CompressionWorkspace().decompress(ByteBuffer(bytes: raw), codec: .snappy, maxOutputBytes: 1 << 20, into: &output)
        }
        #expect(error == CompressionError.outputLimitExceeded(.snappy, limit: 1 << 20))
        #expect(output.capacity < 1 << 20)

        // The same inside xerial framing: each chunk is checked against what is left of the budget.
        let framed: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7] + raw
        let framedError = compressionError {
            _ = try CompressionWorkspace.decompress(ByteBuffer(bytes: framed), codec: .snappy, maxOutputBytes: 1 << 20)
        }
        #expect(framedError == CompressionError.outputLimitExceeded(.snappy, limit: 1 << 20))

        // Within the limit but impossible for a 7-byte block (snappy expands at most about 21:1).
        let impossible: [UInt8] = [0x80, 0xC2, 0xD7, 0x2F, 0x00, 0x41, 0x42]  // declares 100,000,000 bytes
        var impossibleOutput = ByteBuffer()
        let impossibleError = compressionError {
            try CompressionWorkspace().decompress(
                ByteBuffer(bytes: impossible), codec: .snappy, maxOutputBytes: 1 << 30, into: &impossibleOutput
            )
        }
        #expect(impossibleError?.isCorruptInput == true)
        #expect(impossibleOutput.capacity < 1 << 20)
    }

    @Test("declared sizes larger than the limit are refused, not trusted", arguments: [CompressionCodec.lz4, .zstd])
    func lyingContentSize(codec: CompressionCodec) throws {
        // The fixtures declare their content size; a limit below it must fail even though the header says so.
        let file = codec == .lz4 ? "records.lz4" : "records.zstd"
        let stream = try Fixtures.load(file)
        var output = ByteBuffer()
        let error = compressionError {
            try CompressionWorkspace().decompress(ByteBuffer(bytes: stream), codec: codec, maxOutputBytes: 1000, into: &output)
        }
        #expect(error == CompressionError.outputLimitExceeded(codec, limit: 1000))
        #expect(output.capacity < 64 * 1024)
    }

    @Test("tiny inputs declaring huge sizes do not reserve memory, even with an unlimited budget")
    func lyingHeadersUnlimitedBudget() throws {
        // zstd: single-segment frame declaring 2^40 bytes, then one raw block of 1 byte.
        let zstd: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0] + [0, 0, 0, 0, 0, 1, 0, 0] + [0x09, 0x00, 0x00, 0x41]
        // LZ4: frame with content size 2^40, one stored block of 1 byte, end mark.
        let descriptor: [UInt8] = [0x68, 0x40] + [0, 0, 0, 0, 0, 1, 0, 0]
        let checksum = UInt8(truncatingIfNeeded: FrameWalker.xxh32Short(descriptor) >> 8)
        let lz4: [UInt8] = [0x04, 0x22, 0x4D, 0x18] + descriptor + [checksum, 0x01, 0, 0, 0x80, 0x41, 0, 0, 0, 0]
        // snappy: raw block declaring 2^32 - 1 bytes.
        let snappy: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x41]
        // gzip: one stored byte whose trailer claims 4 GiB - 1.
        var gzip = try CompressionWorkspace.compress(ByteBuffer(bytes: [0x41]), codec: .gzip, level: 0).bytes
        gzip.replaceSubrange((gzip.count - 4)..., with: [0xFF, 0xFF, 0xFF, 0xFF])

        for (codec, bytes) in [(CompressionCodec.zstd, zstd), (.lz4, lz4), (.snappy, snappy), (.gzip, gzip)] {
            var output = ByteBuffer()
            let error = compressionError {
                try CompressionWorkspace().decompress(ByteBuffer(bytes: bytes), codec: codec, maxOutputBytes: .max, into: &output)
            }
            // snappy's 4 GiB claim is over the 2 GiB ceiling, so it fails as over the limit; the others as corrupt.
            #expect(error?.isCorruptInput == true || codec == .snappy && error?.isOutputLimitExceeded == true,
                    "\(codec): \(String(describing: error))")
            #expect(output.capacity <= 1 << 20, "\(codec) reserved \(output.capacity) bytes")
        }
    }

    @Test("an unlimited budget works for honest input", arguments: CompressionCodec.allCases)
    func unlimitedBudget(codec: CompressionCodec) throws {
        let payload = TestData.compressible(count: 100_000, seed: 43)
        let compressed = try CompressionWorkspace.compress(ByteBuffer(bytes: payload), codec: codec)
        #expect(try CompressionWorkspace.decompress(compressed, codec: codec, maxOutputBytes: .max).bytes == payload)
    }

    @Test("an abandoned LZ4 frame with a content size does not poison the next call")
    func lz4StaleContentSize() throws {
        let workspace = CompressionWorkspace()
        let withSize = try Fixtures.load("records.lz4")  // declares its content size
        #expect(throws: CompressionError.self) {
            try workspace.decompress(ByteBuffer(bytes: withSize.prefix(withSize.count / 2)), codec: .lz4, maxOutputBytes: 1 << 20)
        }
        #expect(throws: CompressionError.self) {
            try workspace.decompress(ByteBuffer(bytes: withSize), codec: .lz4, maxOutputBytes: 10)
        }
        let withoutSize = try Fixtures.load("records.lz4-java")
        let restored = try workspace.decompress(ByteBuffer(bytes: withoutSize), codec: .lz4, maxOutputBytes: 1 << 20)
        #expect(restored.bytes == (try Fixtures.load("records.raw")))
    }

    @Test("the none codec is bounded too")
    func noneBounded() throws {
        let input = ByteBuffer(repeating: 7, count: 2000)
        #expect(try CompressionWorkspace.decompress(input, codec: .none, maxOutputBytes: 2000) == input)
        let error = compressionError {
            _ = try CompressionWorkspace.decompress(input, codec: .none, maxOutputBytes: 1999)
        }
        #expect(error == CompressionError.outputLimitExceeded(.none, limit: 1999))
    }

    @Test("negative and zero limits", arguments: CompressionCodec.allCases)
    func tinyLimits(codec: CompressionCodec) throws {
        let compressed = try CompressionWorkspace.compress(ByteBuffer(bytes: [1]), codec: codec)
        for limit in [-1, 0] {
            let error = compressionError {
                _ = try CompressionWorkspace.decompress(compressed, codec: codec, maxOutputBytes: limit)
            }
            #expect(error == CompressionError.outputLimitExceeded(codec, limit: 0))
        }
        let empty = try CompressionWorkspace.compress(ByteBuffer(), codec: codec)
        if codec != .none {
            #expect(try CompressionWorkspace.decompress(empty, codec: codec, maxOutputBytes: 0).readableBytes == 0)
        }
    }

    @Test("hundreds of random mutations of valid streams never trap", arguments: compressedCodecs)
    func mutations(codec: CompressionCodec) throws {
        let workspace = CompressionWorkspace()
        var generator = SeededGenerator(seed: 0x5EED_0000 &+ UInt64(codec.rawValue))
        let streams = try Self.validStreams(for: codec)
        let limit = 256 * 1024
        var outcomes = (succeeded: 0, failed: 0)
        for round in 0..<300 {
            var bytes = streams[round % streams.count].stream
            let edits = Int(generator.next() % 4) + 1
            for _ in 0..<edits where !bytes.isEmpty {
                let position = Int(generator.next() % UInt64(bytes.count))
                switch generator.next() % 5 {
                case 0: bytes[position] ^= UInt8(truncatingIfNeeded: generator.next() | 1)  // flip bits
                case 1: bytes[position] = UInt8(truncatingIfNeeded: generator.next())  // overwrite
                case 2: bytes.insert(UInt8(truncatingIfNeeded: generator.next()), at: position)  // insert
                case 3: bytes.remove(at: position)  // delete
                default: bytes.removeLast(min(bytes.count - 1, Int(generator.next() % 64)))  // chop the tail
                }
            }
            var output = ByteBuffer()
            do {
                try workspace.decompress(ByteBuffer(bytes: bytes), codec: codec, maxOutputBytes: limit, into: &output)
                #expect(output.readableBytes <= limit)
                outcomes.succeeded += 1
            } catch {
                #expect(output.readableBytes == 0)
                outcomes.failed += 1
            }
        }
        #expect(outcomes.succeeded + outcomes.failed == 300)
        // The workspace still works after all that.
        let (stream, original) = streams[0]
        #expect(try workspace.decompress(ByteBuffer(bytes: stream), codec: codec, maxOutputBytes: original.count).bytes == original)
    }
}
