import Foundation
import KafkaProtocol
import NIOCore

/// Committed offsets and group metadata on disk: an internal log, `group-coordinator/__consumer_offsets-0/` under
/// the data directory, of record batches written by the coordinator. As in Kafka's `__consumer_offsets`, a record
/// is of one of two kinds, told apart by its key's version: an offset commit, keyed by (group, topic, partition),
/// or a group's metadata (its generation, protocol, leader and members with their assignments), keyed by the
/// group. A null value (a tombstone) deletes what the key names. Replaying the log from the start gives the latest
/// commit of every partition and the latest metadata of every group, which is how a restarted broker gets its
/// groups back.
///
/// The log lives in a subdirectory so that no topic's partition directory (`<topic>-<n>` in the data directory)
/// can ever be the same directory, even for a topic named `__consumer_offsets`.
///
/// Record layout (big-endian, strings as int32 length + UTF-8, nullable strings with length -1 for null, bytes as
/// int32 length + bytes):
/// - offset commit key: int16 version (1), string group, string topic, int32 partition
/// - offset commit value: int16 version (1), int64 offset, int32 leader epoch (-1: none), string metadata,
///   int64 commit time, int64 expire time (-1: none)
/// - group metadata key: int16 version (2), string group
/// - group metadata value: int16 version (1), nullable string protocol type, int32 generation, nullable string
///   protocol name, nullable string leader, int64 state time (-1: unknown), int32 member count, then per member:
///   string member id, nullable string group instance id, string client id, string client host, int32 rebalance
///   timeout, int32 session timeout, bytes metadata (for the chosen protocol), bytes assignment
///
/// Records whose key or value version is unknown are skipped on replay (and dropped by compaction), so a log
/// written by a later layout does not stop a broker from starting.
///
/// Like Kafka's `__consumer_offsets`, the log is compacted: once it has rolled past its active segment
/// (`offsets.topic.segment.bytes`) and at least half its records are superseded (the log cleaner's
/// `min.cleanable.dirty.ratio`, 0.5), it is rewritten to hold only the live commits and group metadata. The
/// rewrite goes to a sibling directory that replaces the log by two renames; a restart after a crash between them
/// finishes the swap, and a half-written rewrite is thrown away.
///
/// Not thread-safe beyond what ``PartitionLog`` guarantees: the coordinator calls it from its event loop only.
final class OffsetStore {
    static let directoryName = "group-coordinator/__consumer_offsets-0"
    private static let offsetKeyVersion: Int16 = 1
    private static let offsetValueVersion: Int16 = 1
    private static let groupKeyVersion: Int16 = 2
    private static let groupValueVersion: Int16 = 1

    let directory: String
    private var log: PartitionLog
    private let config: LogConfig
    /// Records in the log, superseded ones included (what compaction weighs against the live records).
    private(set) var recordCount = 0
    /// A partition of a cluster's replicated `__consumer_offsets`, owned by the broker's topics: never compacted
    /// (a rewrite would change offsets the followers share) nor closed here.
    let replicated: Bool

    enum StoreError: Error, CustomStringConvertible {
        case tooLarge
        case storage(String)

        var description: String {
            switch self {
            case .tooLarge: "the records are larger than a record batch of the offsets log may be"
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
        replicated = false
        try Self.finishInterruptedRewrite(of: directory)
        log = try Self.openLog(directory, config: config, now: now)
    }

    /// The store of one partition of a cluster's replicated `__consumer_offsets` topic, whose leader this broker
    /// just became.
    init(replicated log: PartitionLog) {
        directory = log.directory
        self.log = log
        config = log.currentConfig
        replicated = true
    }

    /// The log's end offset: a write is safe once the high watermark reaches it.
    var logEndOffset: Int64 { log.offsets.logEndOffset }

    /// What opening the log found damaged on disk and cut away.
    var recoveries: [LogRecovery] { log.recoveries }

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

    /// One change to store: a commit or a group's metadata; a nil value deletes it.
    enum Change {
        case offset(group: String, key: TopicPartitionKey, value: StoredOffset?)
        case group(String, StoredGroup?)

        var record: (key: ByteBuffer, value: ByteBuffer?) {
            switch self {
            case .offset(let group, let key, let value):
                (OffsetStore.encodeOffsetKey(group: group, key: key), value.map(OffsetStore.encodeOffsetValue))
            case .group(let group, let value):
                (OffsetStore.encodeGroupKey(group), value.map(OffsetStore.encodeGroupValue))
            }
        }
    }

    /// What the log holds: the latest commit of every (group, topic, partition) and the latest metadata of every
    /// group, tombstoned ones left out.
    struct Contents {
        var offsets: [String: [TopicPartitionKey: StoredOffset]] = [:]
        var groups: [String: StoredGroup] = [:]

        /// Commits plus group metadata records.
        var recordCount: Int { offsets.values.reduce(0) { $0 + $1.count } + groups.count }
    }

    /// Appends the changes as one batch (so a commit of several partitions is stored all or nothing).
    func append(_ changes: [Change], now: Int64) throws(StoreError) {
        guard !changes.isEmpty else { return }
        var builder = RecordBatchBuilder(capacity: 256 * changes.count)
        for change in changes {
            let record = change.record
            builder.append(timestamp: now, key: record.key, value: record.value)
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
    var hasInactiveSegments: Bool { !replicated && log.segmentBaseOffsets.count > 1 }

    /// Whether the log is worth compacting, holding `liveCount` live records (commits and group metadata): it has
    /// segments besides the active one, and at least half its records are superseded.
    func needsCompaction(liveCount: Int) -> Bool {
        hasInactiveSegments && recordCount >= 2 * max(liveCount, 1)
    }

    /// Replaces the log with one holding only `live`: the latest commit of every (group, topic, partition) and
    /// the latest metadata of every group. On a failure before the swap the old log stays in use; the rewrite is
    /// written and fsync'd before it.
    func compact(keeping live: Contents, now: Int64) throws(StoreError) {
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
                func add(_ change: Change, timestamp: Int64) throws {
                    let (keyBytes, valueBytes) = change.record
                    let size = keyBytes.readableBytes + (valueBytes?.readableBytes ?? 0)
                    if pending > 0 && builder.sizeInBytes + size + 32 > budget {
                        try writePending()
                    }
                    builder.append(timestamp: timestamp, key: keyBytes, value: valueBytes)
                    pending += 1
                }
                for group in live.groups.keys.sorted() {
                    let value = live.groups[group]!
                    try add(.group(group, value), timestamp: value.stateTimestamp ?? now)
                }
                for group in live.offsets.keys.sorted() {
                    for (key, value) in live.offsets[group]!.sorted(by: { $0.key < $1.key }) {
                        try add(.offset(group: group, key: key, value: value), timestamp: value.commitTimestamp)
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

    /// Replays the log: the latest stored commit of every (group, topic, partition) and metadata of every group.
    func load() throws -> Contents {
        var result = Contents()
        var next = log.offsets.logStartOffset
        let end = log.offsets.logEndOffset
        // Each pass reads at least one whole batch and moves `next` past it, so this ends.
        while next < end {
            let slice: PartitionLog.Slice?
            do throws(PartitionLog.ReadError) {
                slice = try log.readLocal(from: next, maxBytes: 1 << 20)
            } catch {
                throw StoreError.storage("reading \(directory): \(error)")
            }
            guard let slice else { break }
            var reader = RecordBatchReader(try log.bytes(for: slice))
            let before = next
            while let batch = try reader.next() {
                for record in try batch.allRecords() where record.offset >= next {
                    recordCount += 1
                    guard var keyBytes = record.key, let key = Self.decodeKey(&keyBytes) else { continue }
                    switch key {
                    case .offset(let group, let partition):
                        if var valueBytes = record.value {
                            if let value = Self.decodeOffsetValue(&valueBytes) {
                                result.offsets[group, default: [:]][partition] = value
                            }
                        } else {
                            result.offsets[group]?[partition] = nil
                            if result.offsets[group]?.isEmpty == true { result.offsets[group] = nil }
                        }
                    case .group(let group):
                        if var valueBytes = record.value {
                            if let value = Self.decodeGroupValue(&valueBytes) { result.groups[group] = value }
                        } else {
                            result.groups[group] = nil
                        }
                    }
                }
                next = max(next, batch.nextOffset)
            }
            guard next > before else { break }
        }
        return result
    }

    func close() {
        if !replicated { log.close() }
    }

    /// Bytes of the log on disk (tests, inspection).
    var sizeInBytes: Int { log.sizeInBytes }

    // MARK: - Encoding

    private enum Key {
        case offset(group: String, partition: TopicPartitionKey)
        case group(String)
    }

    private static func decodeKey(_ buffer: inout ByteBuffer) -> Key? {
        guard let version: Int16 = buffer.readInteger(), let group = readString(&buffer) else { return nil }
        switch version {
        case offsetKeyVersion:
            guard let topic = readString(&buffer), let partition: Int32 = buffer.readInteger() else { return nil }
            return .offset(group: group, partition: TopicPartitionKey(topic: topic, partition: partition))
        case groupKeyVersion:
            return .group(group)
        default:
            return nil
        }
    }

    private static func encodeOffsetKey(group: String, key: TopicPartitionKey) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(offsetKeyVersion)
        writeString(group, to: &buffer)
        writeString(key.topic, to: &buffer)
        buffer.writeInteger(key.partition)
        return buffer
    }

    private static func encodeOffsetValue(_ value: StoredOffset) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(offsetValueVersion)
        buffer.writeInteger(value.offset)
        buffer.writeInteger(value.leaderEpoch)
        writeString(value.metadata, to: &buffer)
        buffer.writeInteger(value.commitTimestamp)
        buffer.writeInteger(value.expireTimestamp ?? -1)
        return buffer
    }

    private static func decodeOffsetValue(_ buffer: inout ByteBuffer) -> StoredOffset? {
        guard let version: Int16 = buffer.readInteger(), version == offsetValueVersion,
              let offset: Int64 = buffer.readInteger(), let leaderEpoch: Int32 = buffer.readInteger(),
              let metadata = readString(&buffer), let commitTimestamp: Int64 = buffer.readInteger(),
              let expireTimestamp: Int64 = buffer.readInteger()
        else { return nil }
        return StoredOffset(offset: offset, leaderEpoch: leaderEpoch, metadata: metadata, commitTimestamp: commitTimestamp,
                            expireTimestamp: expireTimestamp >= 0 ? expireTimestamp : nil)
    }

    private static func encodeGroupKey(_ group: String) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(groupKeyVersion)
        writeString(group, to: &buffer)
        return buffer
    }

    private static func encodeGroupValue(_ value: StoredGroup) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(groupValueVersion)
        writeNullableString(value.protocolType, to: &buffer)
        buffer.writeInteger(value.generationId)
        writeNullableString(value.protocolName, to: &buffer)
        writeNullableString(value.leaderId, to: &buffer)
        buffer.writeInteger(value.stateTimestamp ?? -1)
        buffer.writeInteger(Int32(value.members.count))
        for member in value.members {
            writeString(member.memberId, to: &buffer)
            writeNullableString(member.groupInstanceId, to: &buffer)
            writeString(member.clientId, to: &buffer)
            writeString(member.clientHost, to: &buffer)
            buffer.writeInteger(member.rebalanceTimeoutMs)
            buffer.writeInteger(member.sessionTimeoutMs)
            writeBytes(member.metadata, to: &buffer)
            writeBytes(member.assignment, to: &buffer)
        }
        return buffer
    }

    private static func decodeGroupValue(_ buffer: inout ByteBuffer) -> StoredGroup? {
        guard let version: Int16 = buffer.readInteger(), version == groupValueVersion,
              let protocolType = readNullableString(&buffer), let generationId: Int32 = buffer.readInteger(),
              let protocolName = readNullableString(&buffer), let leaderId = readNullableString(&buffer),
              let stateTimestamp: Int64 = buffer.readInteger(), let count: Int32 = buffer.readInteger(), count >= 0
        else { return nil }
        var members: [StoredGroup.Member] = []
        for _ in 0..<count {
            guard let memberId = readString(&buffer), let groupInstanceId = readNullableString(&buffer),
                  let clientId = readString(&buffer), let clientHost = readString(&buffer),
                  let rebalanceTimeoutMs: Int32 = buffer.readInteger(), let sessionTimeoutMs: Int32 = buffer.readInteger(),
                  let metadata = readBytes(&buffer), let assignment = readBytes(&buffer)
            else { return nil }
            members.append(.init(memberId: memberId, groupInstanceId: groupInstanceId, clientId: clientId,
                                 clientHost: clientHost, rebalanceTimeoutMs: rebalanceTimeoutMs,
                                 sessionTimeoutMs: sessionTimeoutMs, metadata: metadata, assignment: assignment))
        }
        return StoredGroup(protocolType: protocolType, generationId: generationId, protocolName: protocolName,
                           leaderId: leaderId, stateTimestamp: stateTimestamp >= 0 ? stateTimestamp : nil,
                           members: members)
    }

    private static func writeString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(Int32(string.utf8.count))
        buffer.writeString(string)
    }

    private static func readString(_ buffer: inout ByteBuffer) -> String? {
        guard let length: Int32 = buffer.readInteger(), length >= 0 else { return nil }
        return buffer.readString(length: Int(length))
    }

    private static func writeNullableString(_ string: String?, to buffer: inout ByteBuffer) {
        if let string { writeString(string, to: &buffer) } else { buffer.writeInteger(Int32(-1)) }
    }

    /// `.some(nil)` for a null string; nil when the bytes do not hold one.
    private static func readNullableString(_ buffer: inout ByteBuffer) -> String?? {
        guard let length: Int32 = buffer.getInteger(at: buffer.readerIndex) else { return nil }
        if length == -1 {
            buffer.moveReaderIndex(forwardBy: 4)
            return .some(nil)
        }
        return readString(&buffer).map { .some($0) }
    }

    private static func writeBytes(_ bytes: ByteBuffer, to buffer: inout ByteBuffer) {
        buffer.writeInteger(Int32(bytes.readableBytes))
        buffer.writeImmutableBuffer(bytes)
    }

    private static func readBytes(_ buffer: inout ByteBuffer) -> ByteBuffer? {
        guard let length: Int32 = buffer.readInteger(), length >= 0, let bytes = buffer.readBytes(length: Int(length))
        else { return nil }
        // A copy: a slice would keep the whole read buffer of the replay alive.
        return ByteBuffer(bytes: bytes)
    }
}
