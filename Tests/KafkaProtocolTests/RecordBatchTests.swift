import Foundation
import KafkaCompression
import NIOCore
import Testing

@testable import KafkaProtocol
import KafkaTestSupport

@Suite("Record batches")
struct RecordBatchTests {
    /// `@unchecked Sendable`: parsed JSON values (`Any`) that nothing mutates after loading.
    struct Fixture: @unchecked Sendable, CustomTestStringConvertible {
        var entry: [String: Any]
        var testDescription: String { "\(entry["name"]!) (\(entry["codec"]!))" }
        var bytes: ByteBuffer { ByteBuffer(hex: entry["hex"] as! String) }
    }

    static let fixtures: [Fixture] = {
        let entries = (try? TestSupport.loadJSON("record_batches.json") as? [[String: Any]]) ?? []
        return entries.map(Fixture.init)
    }()

    // MARK: - Reading kafka-python's batches

    @Test("decodes kafka-python's batches: every header field and record", arguments: fixtures.filter { $0.entry["kind"] as? String == "batch" })
    func goldenBatch(fixture: Fixture) throws {
        let batch = try RecordBatch(fixture.bytes)
        try batch.verifyChecksum()
        try Self.expect(batch, matches: fixture.entry)
    }

    @Test("reads concatenated batches and ignores a truncated tail", arguments: fixtures.filter { $0.entry["kind"] as? String == "concatenated" })
    func concatenated(fixture: Fixture) throws {
        var reader = RecordBatchReader(fixture.bytes)
        var batches: [RecordBatch] = []
        while let batch = try reader.next() { batches.append(batch) }
        let expected = fixture.entry["batches"] as! [[String: Any]]
        #expect(batches.count == expected.count)
        for (batch, entry) in zip(batches, expected) {
            try batch.verifyChecksum()
            try Self.expect(batch, matches: entry)
        }
        #expect((reader.remainingBytes > 0) == (fixture.entry["truncatedTail"] as! Bool))
    }

    @Test("control batches name their marker")
    func controlMarkers() throws {
        for (name, marker) in [("control-commit", ControlRecordType.commit), ("control-abort", .abort)] {
            let fixture = try #require(Self.fixtures.first { $0.entry["name"] as? String == name })
            let batch = try RecordBatch(fixture.bytes)
            #expect(batch.isControl)
            #expect(try batch.controlRecordType() == marker)
        }
        let plain = try RecordBatch(try #require(Self.fixtures.first).bytes)
        #expect(try plain.controlRecordType() == nil)
    }

    /// Compares a batch with a fixture entry of the shape `{"batch": {...}, "records": [...]}`.
    static func expect(_ batch: RecordBatch, matches entry: [String: Any]) throws {
        let header = entry["batch"] as! [String: Any]
        func number(_ key: String) -> Int64 { (header[key] as! NSNumberLike).int64 }
        #expect(batch.baseOffset == number("baseOffset"))
        #expect(batch.partitionLeaderEpoch == Int32(number("partitionLeaderEpoch")))
        #expect(Int64(batch.crc) == number("crc"))
        #expect(Int64(batch.attributes.rawValue) == number("attributes"))
        #expect(batch.lastOffsetDelta == Int32(number("lastOffsetDelta")))
        #expect(batch.baseTimestamp == number("baseTimestamp"))
        #expect(batch.maxTimestamp == number("maxTimestamp"))
        #expect(batch.producerId == number("producerId"))
        #expect(batch.producerEpoch == Int16(number("producerEpoch")))
        #expect(batch.baseSequence == Int32(number("baseSequence")))
        #expect(batch.isTransactional == (header["isTransactional"] as! Bool))
        #expect(batch.isControl == (header["isControl"] as! Bool))
        #expect(Int64(batch.timestampType.rawValue) == number("timestampType"))
        #expect(Int64(batch.recordCount) == number("recordCount"))

        let records = try batch.allRecords()
        let expected = entry["records"] as! [[String: Any]]
        #expect(records.count == expected.count)
        for (record, want) in zip(records, expected) {
            #expect(record.offset == (want["offset"] as! NSNumberLike).int64)
            #expect(record.timestamp == (want["timestamp"] as! NSNumberLike).int64)
            #expect(record.key?.hexString == want["key"] as? String)
            #expect(record.value?.hexString == want["value"] as? String)
            let headers = want["headers"] as! [[Any]]
            #expect(record.headers.count == headers.count)
            for (header, pair) in zip(record.headers, headers) {
                #expect(header.key == pair[0] as! String)
                #expect(header.value?.hexString == pair[1] as? String)
            }
        }
    }

    // MARK: - Our builder

    struct Input: Equatable {
        var timestamp: Int64
        var key: [UInt8]?
        var value: [UInt8]?
        var headers: [RecordHeader]
    }

    static func sampleInputs() -> [Input] {
        var generator = SeededGenerator(seed: 42)
        var inputs: [Input] = [
            Input(timestamp: 1_700_000_000_000, key: Array("k1".utf8), value: Array("v1".utf8), headers: []),
            Input(timestamp: 1_700_000_000_005, key: nil, value: Array("no key".utf8),
                  headers: [RecordHeader(key: "trace", value: "abc"), RecordHeader(key: "empty", value: nil)]),
            Input(timestamp: 1_699_999_999_000, key: Array("tombstone".utf8), value: nil, headers: []),
            Input(timestamp: 1_700_000_000_010, key: [], value: [], headers: [RecordHeader(key: "ключ", value: "значение")]),
        ]
        for index in 0..<200 {
            let value = (0..<100).map { _ in UInt8.random(in: 97...102, using: &generator) }
            inputs.append(Input(timestamp: 1_700_000_001_000 + Int64(index), key: Array("key-\(index % 7)".utf8),
                                value: value, headers: []))
        }
        inputs.append(Input(timestamp: 1_700_000_002_000, key: Array("big".utf8),
                            value: [UInt8](repeating: 0x5A, count: 300_000), headers: []))
        return inputs
    }

    static func build(_ inputs: [Input], codec: CompressionCodec, configure: (inout RecordBatchBuilder) -> Void = { _ in }) throws -> ByteBuffer {
        var builder = RecordBatchBuilder(capacity: 1024)
        configure(&builder)
        for input in inputs {
            let key = input.key.map { ByteBuffer(bytes: $0) }
            let value = input.value.map { ByteBuffer(bytes: $0) }
            builder.append(timestamp: input.timestamp, key: key, value: value, headers: input.headers)
        }
        return try builder.build(compression: codec)
    }

    @Test("built batches read back exactly, with every codec", arguments: CompressionCodec.allCases)
    func builderRoundTrip(codec: CompressionCodec) throws {
        let inputs = Self.sampleInputs()
        let bytes = try Self.build(inputs, codec: codec) {
            $0.baseOffset = 500
            $0.producerId = 77
            $0.producerEpoch = 3
            $0.baseSequence = 10
        }
        let batch = try RecordBatch(bytes)
        try batch.verifyChecksum()
        #expect(batch.compression == codec)
        #expect(batch.recordCount == Int32(inputs.count))
        #expect(batch.lastOffsetDelta == Int32(inputs.count - 1))
        #expect(batch.baseTimestamp == inputs[0].timestamp)
        #expect(batch.maxTimestamp == inputs.map(\.timestamp).max())
        #expect((batch.producerId, batch.producerEpoch, batch.baseSequence) == (77, 3, 10))
        let records = try batch.allRecords()
        #expect(records.count == inputs.count)
        for (index, (record, input)) in zip(records, inputs).enumerated() {
            #expect(record.offset == 500 + Int64(index))
            #expect(record.timestamp == input.timestamp)
            #expect(record.key.map { Array($0.readableBytesView) } == input.key)
            #expect(record.value.map { Array($0.readableBytesView) } == input.value)
            #expect(record.headers == input.headers)
        }
        if codec != .none { #expect(bytes.readableBytes < 200_000) }
    }

    @Test("a builder given a finished batch's buffer starts a new batch in it, with nothing of the old one")
    func reusesStorage() throws {
        var first = RecordBatchBuilder(capacity: 64 * 1024)
        first.append(timestamp: 1, key: nil, value: ByteBuffer(string: "first"), headers: [])
        first.append(timestamp: 1, key: nil, value: ByteBuffer(string: "first again"), headers: [])
        let finished = try first.finish()
        // A producer recycles a sent batch's buffer this way. (That the storage itself is kept, and not copied,
        // shows only in an optimised build, where the producer benchmark's page faults measure it.)
        var second = RecordBatchBuilder(reusing: consume finished)
        second.append(timestamp: 2, key: nil, value: ByteBuffer(string: "second"), headers: [])
        let reused = try second.finish()
        let records = try RecordBatch(reused).allRecords()
        #expect(records.map { $0.value.map { String(buffer: $0) } } == ["second"])
    }

    @Test("uncompressed records are slices of the batch, not copies")
    func recordsAreSlices() throws {
        let bytes = try Self.build(Self.sampleInputs(), codec: .none)
        let batch = try RecordBatch(bytes)
        var iterator = try batch.records()
        let range = bytes.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!)..<UInt(bitPattern: $0.baseAddress! + $0.count) }
        while let record = try iterator.next() {
            guard let value = record.value, value.readableBytes > 0 else { continue }
            let address = value.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress!) }
            #expect(range.contains(address))
        }
    }

    @Test("kafka-python decodes our batches with every codec, field for field", arguments: CompressionCodec.allCases)
    func kafkaPythonReadsOurBatches(codec: CompressionCodec) async throws {
        try #require(await TestSupport.requirePythonPeer, "kafka-python is not installed (run the README's test command)")
        let inputs = Array(Self.sampleInputs().prefix(60))
        let first = try Self.build(inputs, codec: codec) { $0.baseOffset = 1000; $0.partitionLeaderEpoch = 4 }
        let second = try Self.build(Array(inputs.suffix(3)), codec: codec) {
            $0.baseOffset = 1060
            $0.producerId = 9_876_543_210
            $0.producerEpoch = 2
            $0.baseSequence = 60
            $0.isTransactional = true
        }
        var both = first
        both.writeImmutableBuffer(second)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("batches-\(codec)-\(UUID().uuidString).bin")
        try Data(both.readableBytesView).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let output = try await TestSupport.runPython(
            [TestSupport.fixtures.appendingPathComponent("decode_batch.py").path, file.path], input: nil
        )
        let decoded = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let batches = try #require(decoded["batches"] as? [[String: Any]])
        #expect(batches.count == 2)
        for (bytes, entry) in zip([first, second], batches) {
            #expect(entry["crcValid"] as? Bool == true)
            // kafka-python's view must equal ours in every field.
            try Self.expect(try RecordBatch(bytes), matches: ["batch": entry, "records": entry["records"]!])
        }
    }

    @Test("a batch that refers to its large values is, with them written in, byte for byte the batch that copies them",
          arguments: [CompressionCodec.none, .lz4])
    func referencedValues(codec: CompressionCodec) throws {
        let sizes = [10, 2047, 2048, 10_000, 0, 100_000, 3]
        var copying = RecordBatchBuilder()
        var referencing = RecordBatchBuilder()
        for (index, size) in sizes.enumerated() {
            let value = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ index) })
            let key = ByteBuffer(string: "key-\(index)")
            let headers = [RecordHeader(key: "n", value: "\(index)")]
            copying.append(timestamp: 1_000 + Int64(index), key: key, value: value, headers: headers)
            key.withUnsafeReadableBytes { key in
                if size >= 2048 {
                    referencing.append(timestamp: 1_000 + Int64(index), key: key, referencing: value, headers: headers)
                } else {
                    value.withUnsafeReadableBytes { referencing.append(timestamp: 1_000 + Int64(index), key: key, value: $0, headers: headers) }
                }
            }
        }
        #expect(referencing.sizeInBytes == copying.sizeInBytes)
        let copied = try copying.build(compression: codec)
        let (batch, values) = try referencing.finishReferencing(compression: codec)
        // Uncompressed, the three large values stay where they are; compressed, they were compressed with the rest.
        #expect(values.map(\.bytes.readableBytes) == (codec == .none ? [2048, 10_000, 100_000] : []))
        let joined = RecordBatchBuilder.joined(batch, values)
        if codec == .none {
            #expect(joined == copied)
        }
        let decoded = try RecordBatch(joined)
        try decoded.verifyChecksum()
        #expect(try decoded.allRecords().map { $0.value?.readableBytes ?? -1 } == sizes)
        // What a producer writes: the bytes around each value and the values, back to back.
        let pieces = RecordBatchBuilder.pieces(of: batch, referencing: values)
        #expect(pieces.count == 2 * values.count + 1)
        #expect(RecordSet(pieces: pieces).buffer == joined)
        #expect(RecordSet(pieces: pieces).byteCount == joined.readableBytes)
    }

    // MARK: - Bad input

    @Test("a flipped byte fails the CRC check")
    func corruptedChecksum() throws {
        var bytes = try Self.build(Array(Self.sampleInputs().prefix(5)), codec: .none)
        let index = bytes.readerIndex + bytes.readableBytes - 3
        bytes.setInteger(bytes.getInteger(at: index, as: UInt8.self)! ^ 0x01, at: index)
        let batch = try RecordBatch(bytes)
        #expect(throws: RecordBatchError.self) { try batch.verifyChecksum() }
    }

    @Test("magic 0 and 1 are an unsupported message format")
    func oldMagic() throws {
        for magic in [Int8(0), 1] {
            var bytes = try Self.build(Array(Self.sampleInputs().prefix(2)), codec: .none)
            bytes.setInteger(magic, at: bytes.readerIndex + RecordBatchLayout.magic)
            #expect(throws: RecordBatchError.unsupportedMessageFormat(magic: magic)) { try RecordBatch(bytes) }
            var reader = RecordBatchReader(bytes)
            #expect(throws: RecordBatchError.unsupportedMessageFormat(magic: magic)) { try reader.next() }
            #expect(RecordBatchError.unsupportedMessageFormat(magic: magic).description.contains("unsupported message format"))
        }
    }

    @Test("a record count that disagrees with the records is corrupt, whatever the codec", arguments: CompressionCodec.allCases)
    func recordCountMismatch(codec: CompressionCodec) throws {
        var bytes = try Self.build(Array(Self.sampleInputs().prefix(4)), codec: codec)
        for claimed in [Int32(3), 5] {
            bytes.setInteger(claimed, at: bytes.readerIndex + RecordBatchLayout.recordCount)
            #expect(throws: RecordBatchError.self) { try RecordBatch(bytes).allRecords() }
        }
    }

    @Test("a decompression bomb is refused by the output limit, not an out-of-memory")
    func decompressionBomb() throws {
        let zeros = Input(timestamp: 0, key: nil, value: [UInt8](repeating: 0, count: 8 << 20), headers: [])
        for codec in CompressionCodec.allCases where codec != .none {
            let bytes = try Self.build([zeros], codec: codec)
            #expect(bytes.readableBytes < 1 << 20)
            let batch = try RecordBatch(bytes)
            #expect(throws: RecordBatchError.self) { try batch.records(maxDecompressedBytes: 1 << 20) }
            _ = try batch.records(maxDecompressedBytes: 16 << 20)
        }
    }

    @Test("extreme offsets and timestamps in a header never trap")
    func extremeHeaderValues() throws {
        for value in [Int64.max, Int64.min] {
            var bytes = try Self.build(Array(Self.sampleInputs().prefix(3)), codec: .none)
            bytes.setInteger(value, at: bytes.readerIndex + RecordBatchLayout.baseOffset)
            bytes.setInteger(value, at: bytes.readerIndex + RecordBatchLayout.baseTimestamp)
            bytes.setInteger(Int32.max, at: bytes.readerIndex + RecordBatchLayout.lastOffsetDelta)
            let batch = try RecordBatch(bytes)
            _ = (batch.lastOffset, batch.nextOffset)
            _ = try batch.allRecords()
        }
    }

    @Test("random corruption of batches never traps")
    func fuzzBatches() throws {
        var generator = SeededGenerator(seed: 7)
        for codec in CompressionCodec.allCases {
            let original = Array(try Self.build(Array(Self.sampleInputs().prefix(20)), codec: codec).readableBytesView)
            for _ in 0..<150 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: RecordBatchLayout.attributes..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                }
                if Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0..<bytes.count / 2, using: &generator)) }
                var reader = RecordBatchReader(ByteBuffer(bytes: bytes))
                while let batch = try? reader.next() {
                    _ = try? batch.allRecords()
                    _ = try? batch.controlRecordType()
                }
            }
        }
    }
}
