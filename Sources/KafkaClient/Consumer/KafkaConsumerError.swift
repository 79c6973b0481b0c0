import KafkaProtocol

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
    /// ``KafkaConsumer/wakeup()`` interrupted a waiting ``KafkaConsumer/poll(timeout:)`` or record iteration
    /// (Java's `WakeupException`).
    case wokenUp
    /// A lookup (metadata, offsets) failed without a broker's error code: no connection, or no answer in time.
    case request(KafkaClientError)

    /// A readable account of the failure.
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
        case .wokenUp: "woken up"
        case .request(let error): "\(error)"
        }
    }
}
