import KafkaProtocol
import NIOCore
import Tracing

/// A record read from a partition. Key, value and header values are slices of the fetched (and, for compressed
/// batches, decompressed) bytes: reading a record copies nothing.
public struct ConsumerRecord: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    /// Milliseconds since the epoch.
    public var timestamp: Int64
    public var timestampType: TimestampType
    public var key: ByteBuffer?
    public var value: ByteBuffer?
    public var headers: RecordHeaders
    /// The leader epoch of the batch, -1 when unknown.
    public var leaderEpoch: Int32
    /// When records are traced (``ClientConfiguration/tracer``): the context of this record's `receive` span, a
    /// child of the producer's span when the record's headers carry its context. Start the spans of the record's
    /// processing from it (`withSpan("handle", context: record.traceContext!)`). Nil when nothing is traced.
    public var traceContext: InstrumentationContext? = nil

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

/// A committed offset: the next offset to read (last processed + 1), with optional metadata.
public struct OffsetAndMetadata: Sendable, Hashable {
    public var offset: Int64
    public var leaderEpoch: Int32?
    public var metadata: String?

    public init(offset: Int64, leaderEpoch: Int32? = nil, metadata: String? = nil) {
        self.offset = offset
        self.leaderEpoch = leaderEpoch
        self.metadata = metadata
    }
}

/// Changes to the consumer's partitions in a group.
public enum RebalanceEvent: Sendable, Hashable {
    /// These partitions are now the consumer's (with cooperative rebalancing: only the new ones).
    case assigned([TopicPartition])
    /// These partitions were given back in a rebalance; their positions were committed first when auto-commit is on.
    case revoked([TopicPartition])
    /// These partitions were lost without a chance to commit (the coordinator expired the member).
    case lost([TopicPartition])
}

/// Why a consumer operation failed.
public enum KafkaConsumerError: Error, Sendable, CustomStringConvertible {
    /// `auto.offset.reset=none` and the partition has no committed offset (or the position is out of range).
    case noOffset(TopicPartition)
    /// The operation needs `group.id`.
    case noGroup
    /// `subscribe` and `assign` cannot be mixed.
    case subscriptionConflict(String)
    /// The commit was refused because the group rebalanced; the offsets were not committed.
    case commitFailed(KafkaErrorCode)
    /// The partition is not assigned to this consumer.
    case notAssigned(TopicPartition)
    /// Another consumer with the same `group.instance.id` took over.
    case fencedInstance(String)
    /// A broker answered with an error that is not retriable.
    case broker(KafkaErrorCode, context: String)
    /// A batch failed its CRC check or did not decode.
    case corruptRecords(TopicPartition, String)
    /// The partition's leader truncated its log below what this consumer fetched (records were lost in an unclean
    /// leader change) and `auto.offset.reset` is `none`: seek to continue (Java's `LogTruncationException`).
    case logTruncated(TopicPartition, fetchedUpTo: Int64, divergesAt: Int64)
    /// The consumer is closed.
    case closed
    /// Contradictory settings.
    case invalidConfiguration(String)
    /// A request kept failing until its deadline.
    case timedOut(String)

    public var description: String {
        switch self {
        case .noOffset(let partition): "no committed offset for \(partition) and auto.offset.reset is none"
        case .noGroup: "this operation needs a group.id"
        case .subscriptionConflict(let reason): reason
        case .commitFailed(let code): "commit failed: \(code)"
        case .notAssigned(let partition): "\(partition) is not assigned to this consumer"
        case .fencedInstance(let id): "another consumer with group.instance.id \(id) fenced this one"
        case let .broker(code, context): "\(context): \(code)"
        case let .corruptRecords(partition, reason): "corrupt records in \(partition): \(reason)"
        case let .logTruncated(partition, fetched, diverges):
            "\(partition): the leader's log was truncated at \(diverges), below offset \(fetched) this consumer had fetched"
        case .closed: "the consumer is closed"
        case .invalidConfiguration(let reason): "invalid consumer configuration: \(reason)"
        case .timedOut(let what): "\(what) timed out"
        }
    }
}
