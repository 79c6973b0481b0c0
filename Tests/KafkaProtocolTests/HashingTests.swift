import NIOCore
import Testing

@testable import KafkaProtocol
import KafkaTestSupport

@Suite("CRC-32C and murmur2")
struct HashingTests {
    @Test("CRC-32C published check values")
    func crcCheckValues() {
        #expect(crc([UInt8]("123456789".utf8)) == 0xE306_9283)
        #expect(crc([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(crc([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(crc(Array(0...31)) == 0x46DD_794E)
        #expect(crc(Array((0...31).reversed())) == 0x113F_DB5C)
        #expect(crc([]) == 0)
    }

    @Test("CRC-32C agrees with kafka-python on buffers of many lengths and alignments")
    func crcMatchesKafkaPython() throws {
        let vectors = try #require(try TestSupport.loadJSON("crc32c.json") as? [[String: Any]])
        #expect(vectors.count > 50)
        for vector in vectors {
            let bytes = Array(ByteBuffer(hex: vector["hex"] as! String).readableBytesView)
            #expect(UInt64(crc(bytes)) == (vector["crc"] as! NSNumberLike).uint64, "\(bytes.count) bytes")
            // Continuing a checksum across a split gives the same answer as one pass.
            let split = bytes.count / 3
            let first = bytes[..<split].withUnsafeBytes { CRC32C.checksum($0) }
            let whole = bytes[split...].withUnsafeBytes { CRC32C.checksum($0, continuing: first) }
            #expect(whole == crc(bytes))
        }
    }

    @Test("each hardware path agrees with slice-by-8 on large, odd-sized, unaligned buffers",
          arguments: CRC32C.HardwarePath.allCases.filter(\.isAvailable))
    func hardwareMatchesSoftware(path: CRC32C.HardwarePath) {
        var generator = SeededGenerator(seed: 99)
        let bytes = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Lengths around the three streams' block sizes (three of 4 KiB, then of 256 bytes) and their single-stream
        // tail, around folding's (64 bytes a step, then 16, then a tail of under 16), and around the wide folding's
        // (256 bytes a step, then 64, then folding's).
        for (offset, length) in [(0, 12_288), (1, 12_289), (3, 100_003), (5, 1 << 20), (7, 3 << 20 - 7), (0, 7),
                                 (0, 767), (2, 768), (1, 769), (4, 10_000), (6, 12_287), (3, 12_288 + 768 * 5 + 5),
                                 (0, 63), (1, 64), (2, 65), (3, 79), (4, 80), (5, 127), (6, 128), (7, 129),
                                 (0, 191), (1, 64 * 9 + 16 * 3 + 15), (1, 255), (2, 256), (3, 257), (4, 319),
                                 (5, 320), (6, 511), (7, 512 + 64 * 3 + 16 * 2 + 9), (0, 256 * 40 + 64 * 2 + 16)] {
            bytes.withUnsafeBytes { raw in
                let slice = UnsafeRawBufferPointer(rebasing: raw[offset..<offset + length])
                #expect(CRC32C.checksum(slice, path: path) == CRC32C.softwareChecksum(slice), "\(length) bytes at +\(offset)")
                #expect(CRC32C.checksum(slice, continuing: 0x1234_5678, path: path)
                    == CRC32C.softwareChecksum(slice, continuing: 0x1234_5678), "\(length) bytes at +\(offset), continuing")
            }
        }
    }

    @Test("murmur2 matches Kafka's published vectors")
    func murmurVectors() {
        let vectors: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971), ("abc", 479_470_107),
        ]
        for (text, hash) in vectors {
            #expect(Murmur2.hash(Array(text.utf8)) == hash, "\(text)")
        }
    }

    @Test("murmur2 partitions agree with kafka-python's Java-compatible partitioner for thousands of keys")
    func murmurMatchesKafkaPython() throws {
        let entries = try #require(try TestSupport.loadJSON("murmur2.json") as? [[String: Any]])
        #expect(entries.count >= 3000)
        for entry in entries {
            let key = Array(ByteBuffer(hex: entry["key"] as! String).readableBytesView)
            let hash = Murmur2.hash(key)
            #expect(Int64(hash) == (entry["hash"] as! NSNumberLike).int64)
            for (count, partition) in entry["partitions"] as! [String: Any] {
                let computed = key.withUnsafeBytes { Murmur2.partition(forKey: $0, partitionCount: Int32(count)!) }
                #expect(Int64(computed) == (partition as! NSNumberLike).int64)
            }
        }
    }

    private func crc(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { CRC32C.checksum($0) }
    }
}
