import Foundation
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import NIOCore
import Testing

@testable import MockBroker

/// The on-disk log, driven directly: segments, indexes, roll, retention, recovery, idempotence.
@Suite("Partition log storage")
struct PartitionLogTests {
    static func config(_ change: (inout LogConfig) -> Void = { _ in }) -> LogConfig {
        var config = LogConfig()
        config.segmentBytes = 4096
        config.indexIntervalBytes = 256
        config.maxIndexBytes = 64 * 1024
        change(&config)
        return config
    }

    static func open(_ directory: String, _ config: LogConfig, now: Int64 = 0) throws -> PartitionLog {
        try PartitionLog(directory: directory, topic: "t", partition: 0, config: config, leaderEpoch: 0, now: now)
    }

    /// A batch of `count` records with values `v<first>`… and increasing timestamps.
    static func batch(_ count: Int, first: Int, timestamp: Int64 = 1_000, codec: CompressionCodec = .none,
                      configure: (inout RecordBatchBuilder) -> Void = { _ in }) throws -> RecordBatch {
        var builder = RecordBatchBuilder(capacity: 512)
        configure(&builder)
        for index in 0..<count {
            builder.append(timestamp: timestamp + Int64(index), key: ByteBuffer(string: "k\(first + index)"),
                           value: ByteBuffer(string: "value-\(first + index)-" + String(repeating: "x", count: 40)))
        }
        return try RecordBatch(builder.build(compression: codec))
    }

    /// The batches a fetch at `offset` would send, read back from the file.
    static func batches(at offset: Int64, in log: PartitionLog, maxBytes: Int = 1 << 20) throws -> [RecordBatch] {
        let (slice, _) = try log.read(from: offset, maxBytes: maxBytes, minOneBatch: true, readCommitted: false)
        guard let slice else { return [] }
        var reader = RecordBatchReader(try log.bytes(for: slice))
        var batches: [RecordBatch] = []
        while let batch = try reader.next() { batches.append(batch) }
        return batches
    }

    static func fill(_ log: PartitionLog, batches: Int, recordsPerBatch: Int = 3, now: Int64 = 0,
                     timestamp: (Int) -> Int64 = { 1_000 + Int64($0) * 10 }) throws {
        for index in 0..<batches {
            _ = try log.append(try batch(recordsPerBatch, first: index * recordsPerBatch, timestamp: timestamp(index)), now: now)
        }
    }

    @Test("the sparse index finds every offset across many segments")
    func indexLookupsAcrossSegments() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config())
        defer { log.close() }
        try Self.fill(log, batches: 300)
        #expect(log.offsets.logEndOffset == 900)
        #expect(log.segmentBaseOffsets.count > 10)
        #expect(log.segmentIndexEntryCounts.allSatisfy { $0 > 0 })
        for offset in Int64(0)..<900 {
            let first = try #require(try Self.batches(at: offset, in: log, maxBytes: 1).first, "offset \(offset)")
            #expect(first.baseOffset <= offset && offset <= first.lastOffset, "offset \(offset) found batch \(first.baseOffset)")
        }
        // Segment files are named by their base offsets, 20 digits.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted()
        #expect(names.first == "00000000000000000000.log")
        #expect(names.map { Int64($0.prefix(20))! } == log.segmentBaseOffsets)
    }

    @Test("segments roll at segment.bytes and at segment.ms")
    func roll() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config { $0.segmentMs = 1_000 })
        defer { log.close() }
        try Self.fill(log, batches: 100)
        let sizes = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }
            .map { try FileManager.default.attributesOfItem(atPath: "\(directory)/\($0)")[.size] as! Int }
        #expect(sizes.count > 1 && sizes.allSatisfy { $0 <= 4096 })

        let timed = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: timed) }
        let byAge = try Self.open(timed, Self.config { $0.segmentMs = 1_000; $0.segmentBytes = 1 << 20 })
        defer { byAge.close() }
        _ = try byAge.append(try Self.batch(1, first: 0), now: 10_000)
        _ = try byAge.append(try Self.batch(1, first: 1), now: 10_500)
        #expect(byAge.segmentBaseOffsets == [0])
        _ = try byAge.append(try Self.batch(1, first: 2), now: 11_000)
        #expect(byAge.segmentBaseOffsets == [0, 2])
    }

    @Test("retention by time and by size deletes whole old segments and moves the log start offset")
    func retention() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config { $0.retentionMs = 60_000 })
        defer { log.close() }
        // Old records, then recent ones.
        try Self.fill(log, batches: 60, timestamp: { 1_000 + Int64($0) })
        let recentStart = log.offsets.logEndOffset
        try Self.fill(log, batches: 60, timestamp: { 500_000 + Int64($0) })
        let before = log.segmentBaseOffsets
        let deleted = log.enforceRetention(now: 500_000)
        #expect(deleted > 0)
        let start = log.offsets.logStartOffset
        #expect(start == log.segmentBaseOffsets.first && start > 0 && start <= recentStart)
        #expect(log.segmentBaseOffsets == Array(before.dropFirst(deleted)))
        #expect(throws: PartitionLog.ReadError.offsetOutOfRange) { try Self.batches(at: start - 1, in: log) }
        #expect(try Self.batches(at: start, in: log).first?.baseOffset == start)

        var bySize = log.currentConfig
        bySize.retentionMs = -1
        bySize.retentionBytes = 8192
        log.updateConfig(bySize)
        log.enforceRetention(now: 500_000)
        #expect(log.sizeInBytes < 8192 + 4096)
        #expect(log.segmentBaseOffsets.count >= 2)
        #expect(log.offsets.logStartOffset == log.segmentBaseOffsets.first)
        // The active segment is never deleted.
        bySize.retentionBytes = 0
        log.updateConfig(bySize)
        log.enforceRetention(now: 500_000)
        #expect(log.segmentBaseOffsets.count == 1)
    }

    @Test("DeleteRecords moves the log start offset and drops segments below it")
    func deleteRecords() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config())
        try Self.fill(log, batches: 100)
        #expect(try log.deleteRecords(before: 150) == 150)
        #expect(log.segmentBaseOffsets.first! <= 150 && log.segmentBaseOffsets.count > 1)
        #expect(throws: PartitionLog.ReadError.offsetOutOfRange) { try Self.batches(at: 149, in: log) }
        #expect(try Self.batches(at: 150, in: log).first.map { $0.baseOffset <= 150 && $0.lastOffset >= 150 } == true)
        #expect(throws: PartitionLog.ReadError.offsetOutOfRange) { try log.deleteRecords(before: 301) }
        #expect(try log.deleteRecords(before: -1) == 300)
        log.close()
        // The log start offset survives a restart.
        let reopened = try Self.open(directory, Self.config())
        defer { reopened.close() }
        #expect(reopened.offsets.logStartOffset == 300)
        #expect(reopened.offsets.logEndOffset == 300)
    }

    @Test("a torn tail is cut at the last whole batch on restart, and appends continue after it")
    func tornTail() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config { $0.segmentBytes = 1 << 20 })
        try Self.fill(log, batches: 10)
        log.close()
        let file = "\(directory)/00000000000000000000.log"
        let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
        #expect(truncate(file, off_t(size - 7)) == 0)

        let reopened = try Self.open(directory, Self.config { $0.segmentBytes = 1 << 20 })
        defer { reopened.close() }
        #expect(reopened.offsets.logEndOffset == 27)
        #expect(try reopened.append(try Self.batch(3, first: 27), now: 0).baseOffset == 27)
        #expect(try Self.batches(at: 27, in: reopened).first?.baseOffset == 27)
    }

    @Test("a batch with a bad CRC at the tail is dropped on restart")
    func corruptTail() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config { $0.segmentBytes = 1 << 20 })
        try Self.fill(log, batches: 5)
        log.close()
        let file = "\(directory)/00000000000000000000.log"
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: file))
        let end = try handle.seekToEnd()
        try handle.seek(toOffset: end - 5)
        try handle.write(contentsOf: [0xFF, 0xFE, 0xFD])
        try handle.close()

        let reopened = try Self.open(directory, Self.config { $0.segmentBytes = 1 << 20 })
        defer { reopened.close() }
        #expect(reopened.offsets.logEndOffset == 12)
        let all = try Self.batches(at: 0, in: reopened)
        #expect(all.map(\.baseOffset) == [0, 3, 6, 9])
        try all.forEach { try $0.verifyChecksum() }
    }

    @Test("deleted or damaged indexes are rebuilt on restart")
    func indexesRebuilt() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config())
        try Self.fill(log, batches: 120)
        let bases = log.segmentBaseOffsets
        log.close()
        #expect(bases.count > 3)
        // The first segment loses both indexes; the second gets garbage in its offset index.
        let first = LogSegment.fileName(bases[0], "index")
        try FileManager.default.removeItem(atPath: "\(directory)/\(first)")
        try FileManager.default.removeItem(atPath: "\(directory)/\(LogSegment.fileName(bases[0], "timeindex"))")
        try Data(repeating: 0xAB, count: 64).write(to: URL(fileURLWithPath: "\(directory)/\(LogSegment.fileName(bases[1], "index"))"))

        let reopened = try Self.open(directory, Self.config())
        defer { reopened.close() }
        #expect(reopened.segmentIndexEntryCounts[0] > 0 && reopened.segmentIndexEntryCounts[1] > 0)
        for offset in stride(from: Int64(0), to: 360, by: 7) {
            let found = try #require(try Self.batches(at: offset, in: reopened, maxBytes: 1).first)
            #expect(found.baseOffset <= offset && offset <= found.lastOffset)
        }
        #expect(reopened.offsets.logEndOffset == 360)
    }

    @Test("what an unclean stop leaves (untrimmed, preallocated indexes) opens cleanly")
    func uncleanStop() throws {
        let directory = try makeTemporaryDirectory()
        let copy = try makeTemporaryDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: directory)
            try? FileManager.default.removeItem(atPath: copy)
        }
        let log = try Self.open(directory, Self.config { $0.flushMessages = 1 })
        try Self.fill(log, batches: 80)
        // Copy the files while the log is open: indexes are still at their preallocated size.
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            try FileManager.default.copyItem(atPath: "\(directory)/\(name)", toPath: "\(copy)/\(name)")
        }
        log.close()
        let recovered = try Self.open(copy, Self.config())
        defer { recovered.close() }
        #expect(recovered.offsets.logEndOffset == 240)
        for offset in stride(from: Int64(0), to: 240, by: 11) {
            #expect(try Self.batches(at: offset, in: recovered, maxBytes: 1).first.map { $0.baseOffset <= offset && offset <= $0.lastOffset } == true)
        }
    }

    @Test("idempotent producers: a retried batch is acknowledged with its first offset, gaps and old epochs are refused")
    func idempotence() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config())
        defer { log.close() }
        func batch(sequence: Int32, epoch: Int16 = 0, count: Int = 2) throws -> RecordBatch {
            try Self.batch(count, first: Int(sequence)) {
                $0.producerId = 42
                $0.producerEpoch = epoch
                $0.baseSequence = sequence
            }
        }
        #expect(try log.append(try batch(sequence: 0), now: 0).baseOffset == 0)
        #expect(try log.append(try batch(sequence: 2), now: 0).baseOffset == 2)
        let retry = try log.append(try batch(sequence: 0), now: 0)
        #expect(retry.duplicate && retry.baseOffset == 0)
        #expect(log.offsets.logEndOffset == 4)
        #expect(throws: PartitionLog.AppendError.outOfOrderSequence) { try log.append(try batch(sequence: 7), now: 0) }
        #expect(throws: PartitionLog.AppendError.outOfOrderSequence) {
            try log.append(try Self.batch(1, first: 0) { $0.producerId = 43; $0.producerEpoch = 0; $0.baseSequence = 5 }, now: 0)
        }
        #expect(try log.append(try batch(sequence: 0, epoch: 1), now: 0).baseOffset == 4)
        #expect(throws: PartitionLog.AppendError.invalidProducerEpoch) { try log.append(try batch(sequence: 4, epoch: 0), now: 0) }
        #expect(log.offsets.logEndOffset == 6)
    }

    @Test("LogAppendTime topics get the broker's timestamp, with a CRC that still verifies", arguments: [CompressionCodec.none, .zstd])
    func logAppendTime(codec: CompressionCodec) throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config { $0.timestampType = .logAppendTime })
        defer { log.close() }
        let result = try log.append(try Self.batch(3, first: 0, timestamp: 5, codec: codec), now: 1_234_567)
        #expect(result.logAppendTime == 1_234_567)
        let stored = try #require(try Self.batches(at: 0, in: log).first)
        try stored.verifyChecksum()
        #expect(stored.timestampType == .logAppendTime && stored.maxTimestamp == 1_234_567)
        #expect(try stored.allRecords().map(\.timestamp) == [1_234_567, 1_234_567, 1_234_567])
    }

    @Test("offsets by timestamp are exact to the record, across segments; past the end there is none")
    func offsetsByTimestamp() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config())
        defer { log.close() }
        // Batch i has records at 10_000 + 100 i + {0, 1, 2}.
        try Self.fill(log, batches: 100, timestamp: { 10_000 + Int64($0) * 100 })
        for batchIndex in stride(from: 0, to: 100, by: 9) {
            let base = 10_000 + Int64(batchIndex) * 100
            #expect(try log.offset(forTimestamp: base)?.offset == Int64(batchIndex * 3))
            #expect(try log.offset(forTimestamp: base + 1)?.offset == Int64(batchIndex * 3 + 1))
            // The next batch's first record, except after the last batch, where there is none.
            #expect(try log.offset(forTimestamp: base + 3)?.offset == (batchIndex == 99 ? nil : Int64(batchIndex * 3 + 3)))
        }
        #expect(try log.offset(forTimestamp: 0)?.offset == 0)
        #expect(try log.offset(forTimestamp: 1_000_000) == nil)
        let max = try #require(try log.maxTimestampRecord())
        #expect(max == (offset: 299, timestamp: 10_000 + 99 * 100 + 2))
    }

    @Test("fetch slices: whole batches within max bytes (or Kafka's trailing part of a batch), the first batch whole even when larger",
          arguments: [256, 1 << 20])
    func fetchSlices(indexIntervalBytes: Int) throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config {
            $0.segmentBytes = 1 << 20
            $0.indexIntervalBytes = indexIntervalBytes // an index entry every batch or so; or only the first
        })
        defer { log.close() }
        try Self.fill(log, batches: 10)
        let sizes = try Self.batches(at: 0, in: log).map(\.sizeInBytes)
        #expect(sizes.count == 10)
        // A limit anywhere inside batch k: batches 0..<k, or with Kafka's slicing everything up to the limit.
        for k in 1..<10 {
            let whole = sizes[..<k].reduce(0, +)
            for extra in [0, 1, sizes[k] - 1] {
                let (slice, _) = try log.read(from: 0, maxBytes: whole + extra, minOneBatch: true, readCommitted: false)
                #expect(slice?.length == whole, "limit \(whole + extra)")
                let (kafkas, _) = try log.read(from: 0, maxBytes: whole + extra, minOneBatch: true, readCommitted: false,
                                               partialLastBatch: true)
                #expect(kafkas?.length == whole + extra, "limit \(whole + extra)")
            }
        }
        let batchSize = sizes[0]
        let (whole, _) = try log.read(from: 4, maxBytes: 10, minOneBatch: true, readCommitted: false)
        #expect(whole?.length == batchSize)
        let (none, _) = try log.read(from: 4, maxBytes: 0, minOneBatch: false, readCommitted: false)
        #expect(none == nil)
        // Not first in the response: a batch larger than max bytes is not cut into a piece of a batch (KIP-74).
        let (tooLarge, _) = try log.read(from: 4, maxBytes: batchSize - 1, minOneBatch: false, readCommitted: false)
        #expect(tooLarge == nil)
        let (atEnd, offsets) = try log.read(from: 30, maxBytes: 100, minOneBatch: true, readCommitted: false)
        #expect(atEnd == nil && offsets.highWatermark == 30)
        #expect(throws: PartitionLog.ReadError.offsetOutOfRange) { try log.read(from: 31, maxBytes: 100, minOneBatch: true, readCommitted: false) }
    }

    @Test("batches appended in one call get offsets in order, roll segments between them at segment.bytes, and read back after a reopen")
    func batchesAppendedTogether() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config())
        let appends = try (0..<40).map { PartitionLog.Append(batch: try Self.batch(3, first: $0 * 3), now: 0) }
        let results = log.append(appends)
        #expect(try results.map { try $0.get().baseOffset } == (0..<40).map { Int64($0 * 3) })
        #expect(log.segmentBaseOffsets.count >= 3, "40 batches of about 300 bytes in segments of 4 KB")
        for index in [0, 7, 19, 20, 39] {
            #expect(try Self.batches(at: Int64(index * 3 + 1), in: log).first?.baseOffset == Int64(index * 3))
        }
        let segments = log.segmentBaseOffsets
        log.close()
        let reopened = try Self.open(directory, Self.config())
        defer { reopened.close() }
        #expect(reopened.recoveries.isEmpty)
        #expect(reopened.segmentBaseOffsets == segments)
        #expect(reopened.offsets.logEndOffset == 120)
    }

    @Test("more batches in one call than one pwritev takes (two buffers a batch, 1,024 buffers a call) are all written, in order")
    func moreBatchesTogetherThanOneWriteTakes() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config { $0.segmentBytes = 1 << 20 })
        defer { log.close() }
        let count = SegmentFile.maxBuffersPerWrite + 100
        let appends = try (0..<count).map { PartitionLog.Append(batch: try Self.batch(1, first: $0), now: 0) }
        let results = log.append(appends)
        #expect(try results.map { try $0.get().baseOffset } == (0..<count).map(Int64.init))
        #expect(log.offsets.logEndOffset == Int64(count))
        let read = try Self.batches(at: 0, in: log, maxBytes: 1 << 20)
        #expect(read.count == count)
        #expect(read.map(\.baseOffset) == (0..<count).map(Int64.init))
    }

    @Test("a batch that does not fit is answered with nothing, never with a later segment's batches")
    func batchThatDoesNotFitAcrossSegments() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = try Self.open(directory, Self.config { $0.segmentBytes = 1 }) // a segment per batch
        defer { log.close() }
        try Self.fill(log, batches: 3)
        let batchSize = try #require(try Self.batches(at: 0, in: log, maxBytes: 1).first).sizeInBytes
        let (nothing, _) = try log.read(from: 3, maxBytes: batchSize - 1, minOneBatch: false, readCommitted: false)
        #expect(nothing == nil)
        let (whole, _) = try log.read(from: 3, maxBytes: batchSize - 1, minOneBatch: true, readCommitted: false)
        #expect(whole?.length == batchSize)
        #expect(try Self.batches(at: 3, in: log, maxBytes: 1).first?.baseOffset == 3)
    }
}
