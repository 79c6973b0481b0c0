import KafkaCompression
import NIOCore
import Testing

/// Walks compressed streams by hand, applying the rules the Java client's readers apply.
enum FrameWalker {
    struct Malformed: Error, CustomStringConvertible {
        var description: String
    }

    /// XXH32 for inputs shorter than 16 bytes (an LZ4 frame descriptor is at most 14), seed 0.
    static func xxh32Short(_ bytes: [UInt8]) -> UInt32 {
        precondition(bytes.count < 16)
        let prime1: UInt32 = 0x9E37_79B1, prime2: UInt32 = 0x85EB_CA77, prime3: UInt32 = 0xC2B2_AE3D
        let prime4: UInt32 = 0x27D4_EB2F, prime5: UInt32 = 0x1656_67B1
        func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { (x << r) | (x >> (32 - r)) }
        var hash = prime5 &+ UInt32(bytes.count)
        var index = 0
        while index + 4 <= bytes.count {
            let lane = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16
                | UInt32(bytes[index + 3]) << 24
            hash = rotl(hash &+ lane &* prime3, 17) &* prime4
            index += 4
        }
        while index < bytes.count {
            hash = rotl(hash &+ UInt32(bytes[index]) &* prime5, 11) &* prime1
            index += 1
        }
        hash ^= hash >> 15
        hash = hash &* prime2
        hash ^= hash >> 13
        hash = hash &* prime3
        hash ^= hash >> 16
        return hash
    }

    static func uint32LE(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
    }

    static func int32BE(_ bytes: [UInt8], _ at: Int) -> Int32 {
        Int32(bitPattern: UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3]))
    }

    /// Checks a single LZ4 frame the way Java's `Lz4BlockInputStream` reads it (magic, FLG/BD reserved bits,
    /// version 1, independent blocks, header checksum, block sizes within the maximum) and that nothing
    /// follows it, since Java reads only one frame. Returns each block's (size, isCompressed).
    static func lz4Blocks(_ bytes: [UInt8]) throws -> [(size: Int, compressed: Bool)] {
        guard bytes.count >= 7, uint32LE(bytes, 0) == 0x184D_2204 else { throw Malformed(description: "magic") }
        let flg = bytes[4], bd = bytes[5]
        guard flg & 0x03 == 0 else { throw Malformed(description: "FLG reserved bits") }
        guard flg & 0x20 != 0 else { throw Malformed(description: "dependent blocks") }
        guard flg >> 6 == 1 else { throw Malformed(description: "version") }
        guard bd & 0x8F == 0, (4...7).contains(bd >> 4) else { throw Malformed(description: "BD") }
        let maxBlock = 1 << (2 * Int(bd >> 4) + 8)
        var offset = 6
        if flg & 0x08 != 0 { offset += 8 }
        guard bytes.count > offset else { throw Malformed(description: "short descriptor") }
        let expectedChecksum = UInt8(truncatingIfNeeded: xxh32Short(Array(bytes[4..<offset])) >> 8)
        guard bytes[offset] == expectedChecksum else { throw Malformed(description: "header checksum") }
        offset += 1
        var blocks: [(Int, Bool)] = []
        while true {
            guard bytes.count - offset >= 4 else { throw Malformed(description: "premature end") }
            let word = uint32LE(bytes, offset)
            offset += 4
            let size = Int(word & 0x7FFF_FFFF)
            if size == 0 { break }
            guard size <= maxBlock else { throw Malformed(description: "block of \(size) > \(maxBlock)") }
            offset += size + (flg & 0x10 != 0 ? 4 : 0)
            guard offset <= bytes.count else { throw Malformed(description: "block past end") }
            blocks.append((size, word & 0x8000_0000 == 0))
        }
        if flg & 0x04 != 0 { offset += 4 }
        guard offset == bytes.count else { throw Malformed(description: "bytes after the frame") }
        return blocks
    }

    /// Returns the chunks of a single xerial-framed snappy stream.
    static func xerialChunks(_ bytes: [UInt8]) throws -> [[UInt8]] {
        let header: [UInt8] = [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]
        guard bytes.count >= 16, Array(bytes.prefix(16)) == header else { throw Malformed(description: "header") }
        var chunks: [[UInt8]] = []
        var offset = 16
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw Malformed(description: "chunk length") }
            let length = Int(int32BE(bytes, offset))
            offset += 4
            guard length > 0, length <= bytes.count - offset else { throw Malformed(description: "chunk") }
            chunks.append(Array(bytes[offset..<(offset + length)]))
            offset += length
        }
        return chunks
    }
}

@Suite("Wire formats other clients require")
struct FormatTests {
    static let sizes = [0, 1, 1000, 64 * 1024, 64 * 1024 + 1, 300 * 1024]

    @Test("xxh32 helper matches the reference header checksum for Java's descriptor")
    func xxh32Reference() {
        // python-lz4 writes 04 22 4D 18 60 40 82 for independent 64 KiB blocks and no options.
        #expect(UInt8(truncatingIfNeeded: FrameWalker.xxh32Short([0x60, 0x40]) >> 8) == 0x82)
        #expect(FrameWalker.xxh32Short([]) == 0x02CC_5D05)  // XXH32 of the empty input, seed 0
    }

    @Test("LZ4 output is one frame Java's Lz4BlockInputStream accepts", arguments: sizes, [nil, -5, 9] as [Int?])
    func lz4MatchesJava(size: Int, level: Int?) throws {
        for input in [TestData.random(count: size, seed: 21), TestData.compressible(count: size, seed: 22)] {
            let compressed = try CompressionWorkspace.compress(ByteBuffer(bytes: input), codec: .lz4, level: level).bytes
            // Exactly what Java's KafkaLZ4BlockOutputStream writes: FLG 0x60 (version 1, independent blocks,
            // no checksums, no content size), BD 0x40 (64 KiB), then the xxh32-based header checksum.
            #expect(Array(compressed.prefix(7)) == [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82])
            let blocks = try FrameWalker.lz4Blocks(compressed)
            #expect(blocks.count == (size + 65535) / 65536)
            #expect(blocks.allSatisfy { $0.size <= 65536 })
        }
    }

    @Test("empty LZ4 input is a header and an end mark")
    func lz4Empty() throws {
        let compressed = try CompressionWorkspace.compress(ByteBuffer(), codec: .lz4).bytes
        #expect(compressed == [0x04, 0x22, 0x4D, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0])
    }

    @Test("snappy output is the xerial framing snappy-java writes", arguments: sizes)
    func snappyMatchesXerial(size: Int) throws {
        let workspace = CompressionWorkspace()
        let input = TestData.compressible(count: size, seed: 23)
        let compressed = try workspace.compress(ByteBuffer(bytes: input), codec: .snappy).bytes
        let chunks = try FrameWalker.xerialChunks(compressed)
        #expect(chunks.count == max(1, (size + 32767) / 32768))
        // Each chunk is a standalone raw snappy block of at most 32 KiB of input.
        var restored: [UInt8] = []
        for chunk in chunks {
            let block = try workspace.decompress(ByteBuffer(bytes: chunk), codec: .snappy, maxOutputBytes: 32 * 1024)
            restored += block.bytes
        }
        #expect(restored == input)
    }

    @Test("empty snappy input is the header plus one empty chunk, which kafka-python recognises as framed")
    func snappyEmpty() throws {
        let compressed = try CompressionWorkspace.compress(ByteBuffer(), codec: .snappy).bytes
        #expect(compressed == [0x82, 0x53, 0x4E, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0])
        // A header with no chunks (what some writers emit for empty input) reads as empty.
        let headerOnly = ByteBuffer(bytes: compressed.prefix(16))
        #expect(try CompressionWorkspace.decompress(headerOnly, codec: .snappy, maxOutputBytes: 0).readableBytes == 0)
    }

    @Test("gzip output has a real gzip header")
    func gzipHeader() throws {
        let compressed = try CompressionWorkspace.compress(ByteBuffer(bytes: [1, 2, 3]), codec: .gzip).bytes
        #expect(Array(compressed.prefix(3)) == [0x1F, 0x8B, 0x08])
        // ISIZE trailer
        #expect(Array(compressed.suffix(4)) == [3, 0, 0, 0])
    }

    @Test("zstd output is one frame that declares its content size")
    func zstdHeader() throws {
        let input = TestData.compressible(count: 5000, seed: 24)
        let compressed = try CompressionWorkspace.compress(ByteBuffer(bytes: input), codec: .zstd).bytes
        #expect(Array(compressed.prefix(4)) == [0x28, 0xB5, 0x2F, 0xFD])
        // Frame header descriptor: a non-zero Frame_Content_Size_flag or Single_Segment_flag means the size is present.
        let descriptor = compressed[4]
        #expect(descriptor >> 6 != 0 || descriptor & 0x20 != 0)
    }
}
