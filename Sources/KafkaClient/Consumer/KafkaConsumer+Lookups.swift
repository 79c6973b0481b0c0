import KafkaProtocol

/// Looking things up in the cluster: partitions, offsets by position or time, committed offsets. Each keeps
/// retrying what a leader change explains for up to `default.api.timeout.ms`, or the `timeout` given.
extension KafkaConsumer {
    /// The partitions of `topic` (Java's `partitionsFor`); UNKNOWN_TOPIC_OR_PARTITION when there is no such topic.
    public func partitionsFor(_ topic: String, timeout: Duration? = nil) async throws(KafkaConsumerError) -> [PartitionInfo] {
        do {
            return try await cluster.partitions(of: topic, deadline: deadline(timeout))
        } catch {
            throw KafkaConsumerError(error)
        }
    }

    /// Every topic the cluster has, with its partitions; internal topics (`__consumer_offsets`) are left out
    /// (Java's `listTopics`).
    public func listTopics(timeout: Duration? = nil) async throws(KafkaConsumerError) -> [String: [PartitionInfo]] {
        do {
            return try await cluster.allTopics(deadline: deadline(timeout))
        } catch {
            throw KafkaConsumerError(error)
        }
    }

    /// The first offset of each partition (the log start offset).
    public func beginningOffsets(_ partitions: [TopicPartition], timeout: Duration? = nil) async throws(KafkaConsumerError) -> [TopicPartition: Int64] {
        try await offsets(partitions, at: ClusterClient.OffsetSpec.earliest, timeout: timeout)
    }

    /// The end offset of each partition: the offset the next record will get (the high watermark; the last stable
    /// offset with `isolation.level=read_committed`). Lag is the end offset minus the position.
    public func endOffsets(_ partitions: [TopicPartition], timeout: Duration? = nil) async throws(KafkaConsumerError) -> [TopicPartition: Int64] {
        try await offsets(partitions, at: ClusterClient.OffsetSpec.latest, timeout: timeout)
    }

    /// For each partition, the first offset whose record timestamp is at least the given time (milliseconds since
    /// the epoch), with that record's timestamp; a partition with no such record is left out of the result
    /// (Java's `offsetsForTimes`, which maps it to null).
    public func offsetsForTimes(_ timestamps: [TopicPartition: Int64],
                                timeout: Duration? = nil) async throws(KafkaConsumerError) -> [TopicPartition: OffsetAndTimestamp] {
        if let negative = timestamps.first(where: { $0.value < 0 }) {
            throw .invalidConfiguration("offsetsForTimes: negative timestamp \(negative.value) for \(negative.key)")
        }
        do {
            let found = try await cluster.listOffsets(timestamps, isolationLevel: configuration.isolationLevel.rawValue,
                                                      deadline: deadline(timeout))
            return found.compactMapValues { $0 }
        } catch {
            throw KafkaConsumerError(error)
        }
    }

    /// The group's committed offsets for `partitions`; a partition with nothing committed is left out of the result.
    public func committed(_ partitions: [TopicPartition]) async throws(KafkaConsumerError) -> [TopicPartition: OffsetAndMetadata] {
        guard let group else { throw .noGroup }
        do {
            return try await group.committed(partitions).filter { $0.value.offset >= 0 }
        } catch let error as KafkaConsumerError {
            throw error
        } catch let error as KafkaClientError {
            throw KafkaConsumerError(error)
        } catch {
            throw .request(KafkaClientError(error, context: "OffsetFetch"))
        }
    }

    private func offsets(_ partitions: [TopicPartition], at spec: Int64,
                         timeout: Duration?) async throws(KafkaConsumerError) -> [TopicPartition: Int64] {
        let wanted = Dictionary(partitions.map { ($0, spec) }, uniquingKeysWith: { first, _ in first })
        do {
            let found = try await cluster.listOffsets(wanted, isolationLevel: configuration.isolationLevel.rawValue,
                                                      deadline: deadline(timeout))
            return found.compactMapValues { $0?.offset }
        } catch {
            throw KafkaConsumerError(error)
        }
    }

    private func deadline(_ timeout: Duration?) -> ContinuousClock.Instant {
        .now + (timeout ?? configuration.defaultApiTimeout)
    }
}
