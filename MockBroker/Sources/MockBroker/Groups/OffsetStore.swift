import Foundation
import KafkaProtocol
import NIOCore

/// Committed offsets on disk: an internal log, `group-coordinator/__consumer_offsets-0/` under the data
/// directory, of record batches written by the coordinator. Each record's key names a (group, topic, partition);
/// its value holds the commit, and a null value (a tombstone) deletes it. Replaying the log from the start gives
/// the latest commit of every partition, which is how a restarted broker gets its offsets back.
///
/// The log lives in a subdirectory so that no topic's partition directory (`<topic>-<n>` in the data directory)
/// can ever be the same directory, even for a topic named `__consumer_offsets`.
///
/// Record layout (big-endian, strings as int32 length + UTF-8):
/// - key: int16 version (1), string group, string topic, int32 partition
/// - value: int16 version (1), int64 offset, int32 leader epoch (-1: none), string metadata, int64 commit time,
///   int64 expire time (-1: none)
///
/// Like Kafka's `__consumer_offsets`, the log is compacted: once it has rolled past its active segment
/// (`offsets.topic.segment.bytes`) and at least half its records are superseded (the log cleaner's
/// `min.cleanable.dirty.ratio`, 0.5), it is rewritten to hold only the live commits. The rewrite goes to a sibling
/// directory that replaces the log by two renames; a restart after a crash between them finishes the swap, and
/// a half-written rewrite is thrown away.
///
/// Not thread-safe beyond what ``PartitionLog`` guarantees: the coordinator calls it from its event loop only.
final class OffsetStore {
    static let directoryName = "group-coordinator/__consumer_offsets-0"
    private static let keyVersion: Int16 = 1
    private static let valueVersion: Int16 = 1

    let directory: String
    private var log: PartitionLog
    private let config: LogConfig
    /// Records in the log, superseded ones included (what compaction weighs against the live commits).
    private(set) var recordCount = 0

    enum StoreError: Error, CustomStringConvertible {
        case tooLarge
        case storage(String)

        var description: String {
            switch self {
            case .tooLarge: "the commit is larger than a record batch of the offsets log may be"
            case .storage(let message): message
            }
        }
    }

    /// Opens (creating) the log under `dataDirectory`. A commit whose batch would exceed `maxMessageBytes`
    /// (the broker's `message.max.bytes`, as for Kafka's offsets topic) is refused; segments roll at
    /// `segmentBytes` (`offsets.topic.segment.bytes`).
    init(dataDirectory: String, maxMessageBytes: Int, segmentBytes: Int, now: Int64) throws {
        let parent = "\(dataDirectory)/group-coordinator"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        directory = "\(dataDirectory)/\(Self.directoryName)"
        var config = LogConfig()
        config.cleanupPolicy = "compact"
        config.retentionMs = -1
        config.segmentBytes = segmentBytes
        config.maxMessageBytes = maxMessageBytes
        self.config = config
        try Self.finishInterruptedRewrite(of: directory)
        log = try Self.openLog(directory, config: config, now: now)
    }

    private static func openLog(_ directory: String, config: LogConfig, now: Int64) throws -> PartitionLog {
        try PartitionLog(directory: directory, topic: "__consumer_offsets", partition: 0, config: config,
                         leaderEpoch: 0, now: now)
    }

    private static func rewriteDirectory(of directory: String) -> String { directory + ".cleaned" }
    private static func retiredDirectory(of directory: String) -> String { directory + ".retired" }

    /// A rewrite is complete once its directory exists and the log's does not (the first rename happened): it
    /// becomes the log. A rewrite next to the log never got that far and is dropped, as is a retired log.
    private static func finishInterruptedRewrite(of directory: String) throws {
        let files = FileManager.default
        let rewritten = rewriteDirectory(of: directory)
        if files.fileExists(atPath: rewritten) {
            if files.fileExists(atPath: directory) {
                try files.removeItem(atPath: rewritten)
            } else {
                try files.moveItem(atPath: rewritten, toPath: directory)
            }
        }
        let retired = retiredDirectory(of: directory)
        if files.fileExists(atPath: retired) { try files.removeItem(atPath: retired) }
    }

    /// One change to store: a commit, or a deletion when `value` is nil.
    struct Change {
        var group: String
        var key: TopicPartitionKey
        var value: StoredOffset?
    }

    /// Appends the changes as one batch (so a commit of several partitions is stored all or nothing).
    func append(_ changes: [Change], now: Int64) throws(StoreError) {
        guard !changes.isEmpty else { return }
        var builder = RecordBatchBuilder(capacity: 256 * changes.count)
        for change in changes {
            builder.append(timestamp: now, key: Self.encodeKey(group: change.group, key: change.key),
                           value: change.value.map(Self.encodeValue))
        }
        let batch: RecordBatch
        do {
            batch = try RecordBatch(builder.build())
        } catch {
            throw .storage("\(error)")
        }
        do {
            _ = try log.append(batch, now: now)
        } catch .messageTooLarge {
            throw .tooLarge
        } catch {
            throw .storage("\(error)")
        }
        recordCount += changes.count
    }

    /// Whether the log has segments besides the active one (only those are cleanable, as in Kafka).
    var hasInactiveSegments: Bool { log.segmentBaseOffsets.count > 1 }

    /// Whether the log is worth compacting, holding `liveCount` live commits: it has segments besides the
    /// active one, and at least half its records are superseded.
    func needsCompaction(liveCount: Int) -> Bool {
        hasInactiveSegments && recordCount >= 2 * max(liveCount, 1)
    }

    /// Replaces the log with one holding only `live`, the latest commit of every (group, topic, partition).
    /// On a failure before the swap the old log stays in use; the rewrite is written and fsync'd before it.
    func compact(keeping live: [String: [TopicPartitionKey: StoredOffset]], now: Int64) throws(StoreError) {
        let files = FileManager.default
        let rewritten = Self.rewriteDirectory(of: directory)
        let retired = Self.retiredDirectory(of: directory)
        do {
            if files.fileExists(atPath: rewritten) { try files.removeItem(atPath: rewritten) }
            let fresh = try Self.openLog(rewritten, config: config, now: now)
            var written = 0
            do {
                // Batches well inside message.max.bytes; the first batch of the rewrite keeps at least one record.
                let budget = max(config.maxMessageBytes / 2, 1)
                var builder = RecordBatchBuilder(capacity: 64 * 1024)
                var pending = 0
                func writePending() throws {
                    guard pending > 0 else { return }
                    _ = try fresh.append(try RecordBatch(builder.build()), now: now)
                    written += pending
                    pending = 0
                    builder = RecordBatchBuilder(capacity: 64 * 1024)
                }
                for group in live.keys.sorted() {
                    for (key, value) in live[group]!.sorted(by: { $0.key < $1.key }) {
                        let keyBytes = Self.encodeKey(group: group, key: key)
                        let valueBytes = Self.encodeValue(value)
                        if pending > 0 && builder.sizeInBytes + keyBytes.readableBytes + valueBytes.readableBytes + 32 > budget {
                            try writePending()
                        }
                        builder.append(timestamp: value.commitTimestamp, key: keyBytes, value: valueBytes)
                        pending += 1
                    }
                }
                try writePending()
                try fresh.flush()
            } catch {
                fresh.delete()
                throw error
            }
            fresh.close()
            log.close()
            try files.moveItem(atPath: directory, toPath: retired)
            try files.moveItem(atPath: rewritten, toPath: directory)
            log = try Self.openLog(directory, config: config, now: now)
            try? files.removeItem(atPath: retired)
            recordCount = written
        } catch let error as StoreError {
            throw error
        } catch {
            throw .storage("compacting \(directory): \(error)")
        }
    }

    /// Replays the log: the latest stored commit of every (group, topic, partition).
    func load() throws -> [String: [TopicPartitionKey: StoredOffset]] {
        var result: [String: [TopicPartitionKey: StoredOffset]] = [:]
        var next = log.offsets.logStartOffset
        let end = log.offsets.logEndOffset
        // Each pass reads at least one whole batch and moves `next` past it, so this ends.
        while next < end {
            let slice: PartitionLog.Slice?
            do throws(PartitionLog.ReadError) {
                (slice, _) = try log.read(from: next, maxBytes: 1 << 20, minOneBatch: true, readCommitted: false)
            } catch {
                throw StoreError.storage("reading \(directory): \(error)")
            }
            guard let slice else { break }
            var reader = RecordBatchReader(try log.bytes(for: slice))
            let before = next
            while let batch = try reader.next() {
                for record in try batch.allRecords() where record.offset >= next {
                    recordCount += 1
                    guard var keyBytes = record.key, let (group, key) = Self.decodeKey(&keyBytes) else { continue }
                    if var valueBytes = record.value {
                        if let value = Self.decodeValue(&valueBytes) { result[group, default: [:]][key] = value }
                    } else {
                        result[group]?[key] = nil
                        if result[group]?.isEmpty == true { result[group] = nil }
                    }
                }
                next = max(next, batch.nextOffset)
            }
            guard next > before else { break }
        }
        return result
    }

    func close() {
        log.close()
    }

    /// Bytes of the log on disk (tests, inspection).
    var sizeInBytes: Int { log.sizeInBytes }

    // MARK: - Encoding

    private static func encodeKey(group: String, key: TopicPartitionKey) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(keyVersion)
        writeString(group, to: &buffer)
        writeString(key.topic, to: &buffer)
        buffer.writeInteger(key.partition)
        return buffer
    }

    private static func decodeKey(_ buffer: inout ByteBuffer) -> (String, TopicPartitionKey)? {
        guard let version: Int16 = buffer.readInteger(), version == keyVersion,
              let group = readString(&buffer), let topic = readString(&buffer),
              let partition: Int32 = buffer.readInteger()
        else { return nil }
        return (group, TopicPartitionKey(topic: topic, partition: partition))
    }

    private static func encodeValue(_ value: StoredOffset) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(valueVersion)
        buffer.writeInteger(value.offset)
        buffer.writeInteger(value.leaderEpoch)
        writeString(value.metadata, to: &buffer)
        buffer.writeInteger(value.commitTimestamp)
        buffer.writeInteger(value.expireTimestamp ?? -1)
        return buffer
    }

    private static func decodeValue(_ buffer: inout ByteBuffer) -> StoredOffset? {
        guard let version: Int16 = buffer.readInteger(), version == valueVersion,
              let offset: Int64 = buffer.readInteger(), let leaderEpoch: Int32 = buffer.readInteger(),
              let metadata = readString(&buffer), let commitTimestamp: Int64 = buffer.readInteger(),
              let expireTimestamp: Int64 = buffer.readInteger()
        else { return nil }
        return StoredOffset(offset: offset, leaderEpoch: leaderEpoch, metadata: metadata, commitTimestamp: commitTimestamp,
                            expireTimestamp: expireTimestamp >= 0 ? expireTimestamp : nil)
    }

    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(Int32(string.utf8.count))
        buffer.writeString(string)
    }

    private static func readString(_ buffer: inout ByteBuffer) -> String? {
        guard let length: Int32 = buffer.readInteger(), length >= 0 else { return nil }
        return buffer.readString(length: Int(length))
    }
}
