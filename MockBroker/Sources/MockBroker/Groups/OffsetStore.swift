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
/// Not thread-safe beyond what ``PartitionLog`` guarantees: the coordinator calls it from its event loop only.
final class OffsetStore {
    static let directoryName = "group-coordinator/__consumer_offsets-0"
    private static let keyVersion: Int16 = 1
    private static let valueVersion: Int16 = 1

    let directory: String
    private let log: PartitionLog

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
    /// (the broker's `message.max.bytes`, as for Kafka's offsets topic) is refused.
    init(dataDirectory: String, maxMessageBytes: Int, now: Int64) throws {
        let parent = "\(dataDirectory)/group-coordinator"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        directory = "\(dataDirectory)/\(Self.directoryName)"
        var config = LogConfig()
        config.cleanupPolicy = "compact"
        config.retentionMs = -1
        config.segmentBytes = 100 * 1024 * 1024  // offsets.topic.segment.bytes
        config.maxMessageBytes = maxMessageBytes
        log = try PartitionLog(directory: directory, topic: "__consumer_offsets", partition: 0, config: config,
                               leaderEpoch: 0, now: now)
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
