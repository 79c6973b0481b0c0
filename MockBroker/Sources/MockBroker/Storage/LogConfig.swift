/// A topic's log settings, named and defaulted after Kafka's topic configs.
public struct LogConfig: Sendable, Hashable {
    /// `segment.bytes`: a segment is rolled when the next batch would take it past this size. Default 1 GiB.
    public var segmentBytes: Int = 1 << 30
    /// `segment.ms`: a non-empty segment older than this is rolled on the next append. Default 7 days.
    public var segmentMs: Int64 = 7 * 24 * 3600 * 1000
    /// `retention.bytes`: old segments are deleted while the partition is larger than this. -1: no limit.
    public var retentionBytes: Int64 = -1
    /// `retention.ms`: segments whose newest record is older than this are deleted. -1: keep forever. Default 7 days.
    public var retentionMs: Int64 = 7 * 24 * 3600 * 1000
    /// `max.message.bytes`: the largest record batch a producer may write. Default 1048588.
    public var maxMessageBytes: Int = 1_048_588
    /// `index.interval.bytes`: bytes of log between offset-index entries. Default 4096.
    public var indexIntervalBytes: Int = 4096
    /// `segment.index.bytes`: the size an index may grow to before the segment is rolled. Default 10 MiB.
    public var maxIndexBytes: Int = 10 * 1024 * 1024
    /// `flush.messages`: fsync after this many records. Default: never (the page cache decides), like Kafka.
    public var flushMessages: Int64 = Int64.max
    /// `flush.ms`: fsync when the last one is older than this. Default: never.
    public var flushMs: Int64 = Int64.max
    /// `message.timestamp.type`: `CreateTime` keeps the producer's timestamps; `LogAppendTime` stamps batches
    /// with the broker's clock.
    public var timestampType: TimestampKind = .createTime
    /// `cleanup.policy`. Only `delete` is enforced; `compact` is accepted and reported but not compacted.
    public var cleanupPolicy: String = "delete"
    /// `min.insync.replicas`: an acks=all produce needs this many in-sync replicas (NOT_ENOUGH_REPLICAS before
    /// the append, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank while it waited). Default 1.
    public var minInsyncReplicas: Int = 1
    /// `unclean.leader.election.enable`: a partition whose in-sync replicas are all gone may elect an out-of-sync
    /// replica. Default false.
    public var uncleanLeaderElection = false

    public enum TimestampKind: String, Sendable, Hashable {
        case createTime = "CreateTime"
        case logAppendTime = "LogAppendTime"
    }

    public init() {}

    /// The settings as Kafka names them, with their values as strings (for DescribeConfigs).
    public var entries: [(name: String, value: String)] {
        [
            ("cleanup.policy", cleanupPolicy),
            ("flush.messages", String(flushMessages)),
            ("flush.ms", String(flushMs)),
            ("index.interval.bytes", String(indexIntervalBytes)),
            ("max.message.bytes", String(maxMessageBytes)),
            ("message.timestamp.type", timestampType.rawValue),
            ("min.insync.replicas", String(minInsyncReplicas)),
            ("retention.bytes", String(retentionBytes)),
            ("retention.ms", String(retentionMs)),
            ("segment.bytes", String(segmentBytes)),
            ("segment.index.bytes", String(maxIndexBytes)),
            ("segment.ms", String(segmentMs)),
            ("unclean.leader.election.enable", String(uncleanLeaderElection)),
        ]
    }

    /// Applies one Kafka-named setting; returns false for a name or value it does not accept.
    public mutating func set(_ name: String, to value: String) -> Bool {
        switch name {
        case "cleanup.policy":
            guard ["delete", "compact", "compact,delete", "delete,compact"].contains(value) else { return false }
            cleanupPolicy = value
        case "flush.messages": return parse(value, min: 1).map { flushMessages = $0 } != nil
        case "flush.ms": return parse(value, min: 0).map { flushMs = $0 } != nil
        case "index.interval.bytes": return parse(value, min: 0).map { indexIntervalBytes = Int($0) } != nil
        case "max.message.bytes": return parse(value, min: 0).map { maxMessageBytes = Int($0) } != nil
        case "message.timestamp.type":
            guard let kind = TimestampKind(rawValue: value) else { return false }
            timestampType = kind
        case "retention.bytes": return parse(value, min: -1).map { retentionBytes = $0 } != nil
        case "retention.ms": return parse(value, min: -1).map { retentionMs = $0 } != nil
        case "segment.bytes": return parse(value, min: 14).map { segmentBytes = Int($0) } != nil
        case "segment.index.bytes": return parse(value, min: 4).map { maxIndexBytes = Int($0) } != nil
        case "segment.ms": return parse(value, min: 1).map { segmentMs = $0 } != nil
        case "min.insync.replicas": return parse(value, min: 1).map { minInsyncReplicas = Int($0) } != nil
        case "unclean.leader.election.enable":
            guard let flag = Bool(value) else { return false }
            uncleanLeaderElection = flag
        default:
            // Settings Kafka has that the mock does not act on are accepted so that clients that set them work.
            return Self.acceptedButIgnored.contains(name)
        }
        return true
    }

    static let acceptedButIgnored: Set<String> = [
        "compression.type", "message.downconversion.enable",
        "min.cleanable.dirty.ratio", "delete.retention.ms", "file.delete.delay.ms", "preallocate",
        "message.timestamp.difference.max.ms", "message.timestamp.before.max.ms", "message.timestamp.after.max.ms",
        "min.compaction.lag.ms", "max.compaction.lag.ms", "segment.jitter.ms", "local.retention.ms",
        "local.retention.bytes", "remote.storage.enable", "follower.replication.throttled.replicas",
        "leader.replication.throttled.replicas",
    ]

    private func parse(_ value: String, min: Int64) -> Int64? {
        guard let number = Int64(value), number >= min else { return nil }
        return number
    }
}
