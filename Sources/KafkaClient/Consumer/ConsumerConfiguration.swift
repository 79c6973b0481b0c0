import NIOCore

/// Consumer settings, named and defaulted after the Java client's.
public struct ConsumerConfiguration: Sendable {
    /// Connections, timeouts, backoff and metadata settings shared with the producer.
    public var client: ClientConfiguration

    /// `group.id`: the consumer group, needed for `subscribe` and for committing offsets. Nil: no group
    /// (use `assign`).
    public var groupId: String?
    /// `group.instance.id`: a static member id (KIP-345) that survives restarts without a rebalance.
    public var groupInstanceId: String?

    /// `auto.offset.reset`: where to start when a partition has no committed offset, or the position is out of
    /// range.
    public enum OffsetReset: String, Sendable {
        case earliest, latest
        /// Fail with ``KafkaConsumerError/noOffset(_:)``.
        case none
    }

    /// `auto.offset.reset`: where to start without a committed offset, or when the position is out of range.
    /// Default `.latest`.
    public var autoOffsetReset: OffsetReset = .latest
    /// `enable.auto.commit`: commit the positions every `auto.commit.interval.ms`, before partitions are revoked,
    /// and on close. Default true (when there is a group).
    public var enableAutoCommit = true
    /// `auto.commit.interval.ms`. Default 5 s.
    public var autoCommitInterval: Duration = .seconds(5)

    /// `fetch.min.bytes`: the broker waits for this much data before answering. Default 1.
    public var fetchMinBytes: Int32 = 1
    /// `fetch.max.wait.ms`: the longest the broker waits for `fetch.min.bytes`. Default 500 ms.
    public var fetchMaxWait: Duration = .milliseconds(500)
    /// `fetch.max.bytes`: the most a fetch response carries. Default 50 MiB.
    public var fetchMaxBytes: Int32 = 52_428_800
    /// `max.partition.fetch.bytes`: the most a fetch returns for one partition. Default 1 MiB.
    public var maxPartitionFetchBytes: Int32 = 1_048_576
    /// `check.crcs`: verify each batch's CRC-32C. Default true.
    public var checkCRCs = true
    /// `isolation.level`.
    /// Which records a fetch returns.
    public enum IsolationLevel: Int8, Sendable {
        /// Every record up to the high watermark, of aborted transactions too.
        case readUncommitted = 0
        /// Only committed transactional records, up to the last stable offset.
        case readCommitted = 1
    }

    /// `isolation.level`. Default `.readUncommitted`.
    public var isolationLevel: IsolationLevel = .readUncommitted
    /// Largest decompressed batch accepted (a decompression bomb is an error).
    public var maxDecompressedBatchBytes = 64 * 1024 * 1024

    /// `session.timeout.ms`: the coordinator drops a member it has not heard from for this long. Default 45 s.
    public var sessionTimeout: Duration = .seconds(45)
    /// `heartbeat.interval.ms`. Default 3 s.
    public var heartbeatInterval: Duration = .seconds(3)
    /// `max.poll.interval.ms`: a member that does not ask for records this long leaves the group (and is the
    /// rebalance timeout it gives the coordinator). Default 5 minutes.
    public var maxPollInterval: Duration = .seconds(5 * 60)
    /// `partition.assignment.strategy`, in order of preference. Default: cooperative-sticky alone, so rebalances are
    /// incremental (KIP-429). The member follows the cooperative protocol only when every assignor listed supports
    /// it, as the Java client does: list `[CooperativeStickyAssignor(), RangeAssignor()]` to share a group with
    /// range-only members (librdkafka's and kafka-python's defaults); rebalances are then eager.
    public var assignors: [any ConsumerPartitionAssignor] = [CooperativeStickyAssignor()]
    /// `max.poll.records`: the most records one ``KafkaConsumer/poll(timeout:)`` returns. Default 500.
    public var maxPollRecords = 500
    /// `default.api.timeout.ms`: how long lookups without a timeout of their own
    /// (``KafkaConsumer/partitionsFor(_:timeout:)``, ``KafkaConsumer/endOffsets(_:timeout:)``,
    /// ``KafkaConsumer/committed(_:)`` and the like) keep retrying. Default 60 s.
    public var defaultApiTimeout: Duration = .seconds(60)

    /// Settings for brokers at `bootstrapServers` (`host:port`, comma-separated), in group `groupId` if given.
    /// A server list that does not parse is reported when the consumer is made.
    public init(bootstrapServers: String, groupId: String? = nil) {
        client = ClientConfiguration(bootstrapServers: bootstrapServers)
        self.groupId = groupId
    }

    /// Settings on top of shared client settings.
    public init(client: ClientConfiguration, groupId: String? = nil) {
        self.client = client
        self.groupId = groupId
    }

    func validate() throws(KafkaConsumerError) {
        if let problem = client.problem { throw .invalidConfiguration(problem) }
        guard heartbeatInterval < sessionTimeout else {
            throw .invalidConfiguration("heartbeat.interval.ms must be lower than session.timeout.ms")
        }
        guard !assignors.isEmpty else { throw .invalidConfiguration("partition.assignment.strategy is empty") }
        if groupInstanceId != nil && groupId == nil { throw .invalidConfiguration("group.instance.id needs group.id") }
    }
}
