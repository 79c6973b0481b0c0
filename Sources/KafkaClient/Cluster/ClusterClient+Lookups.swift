import KafkaProtocol
import NIOCore

/// Lookups the producer, the consumer and the admin client share: partitions of topics and offsets by time.
/// Each retries what a leader change or a refreshing broker explains, until `deadline`.
extension ClusterClient {
    /// Special timestamps of ListOffsets.
    enum OffsetSpec {
        /// The log start offset.
        static let earliest: Int64 = -2
        /// The end offset (the high watermark, or the last stable offset with read_committed).
        static let latest: Int64 = -1
    }

    /// The partitions of `topic`, sorted by index; an unknown topic throws UNKNOWN_TOPIC_OR_PARTITION.
    func partitions(of topic: String, deadline: ContinuousClock.Instant) async throws(KafkaClientError) -> [PartitionInfo] {
        let all = try await describeTopics([topic], deadline: deadline)
        guard let partitions = all[topic] else { throw .broker(.unknownTopicOrPartition, context: "partitions of \(topic)") }
        return partitions
    }

    /// Every topic's partitions (internal topics such as `__consumer_offsets` only with `includeInternal`).
    func allTopics(includeInternal: Bool = false, deadline: ContinuousClock.Instant) async throws(KafkaClientError) -> [String: [PartitionInfo]] {
        try await describeTopics(nil, includeInternal: includeInternal, deadline: deadline)
    }

    /// Partitions of `topics` (nil: all) from a Metadata request of its own, which does not auto-create topics.
    private func describeTopics(_ topics: [String]?, includeInternal: Bool = true,
                                deadline: ContinuousClock.Instant) async throws(KafkaClientError) -> [String: [PartitionInfo]] {
        try await retrying(until: deadline, "Metadata") { () async throws(KafkaClientError) in
            let connection = try await self.anyBrokerTyped()
            var request = MetadataRequest()
            request.topics = topics.map { $0.map { MetadataRequest.MetadataRequestTopic(name: $0) } }
            request.allowAutoTopicCreation = false
            let response = try await connection.sendTyped(request)
            var result: [String: [PartitionInfo]] = [:]
            for topic in response.topics {
                guard let name = topic.name else { continue }
                let code = KafkaErrorCode(rawValue: topic.errorCode)
                if code == .unknownTopicOrPartition || (topic.isInternal && !includeInternal) { continue }
                guard code == .none else { throw .broker(code, context: "metadata of \(name)") }
                result[name] = topic.partitions.sorted { $0.partitionIndex < $1.partitionIndex }.map {
                    PartitionInfo(topic: name, metadata: $0)
                }
            }
            return result
        }
    }

    /// ListOffsets for each partition at `timestamp` (a time in milliseconds, or an ``OffsetSpec``), asked of each
    /// partition's leader; nil where no record is at or after the time.
    func listOffsets(_ wanted: [TopicPartition: Int64], isolationLevel: Int8,
                     deadline: ContinuousClock.Instant) async throws(KafkaClientError) -> [TopicPartition: OffsetAndTimestamp?] {
        var result: [TopicPartition: OffsetAndTimestamp?] = [:]
        var remaining = wanted
        try await retrying(until: deadline, "ListOffsets") { () async throws(KafkaClientError) in
            let metadata: ClusterMetadata
            do {
                metadata = try await self.refreshMetadata(adding: Set(remaining.keys.map(\.topic)), allowAutoTopicCreation: false).get()
            } catch {
                throw KafkaClientError(error, context: "metadata")
            }
            var byLeader: [Int32: [TopicPartition]] = [:]
            for partition in remaining.keys {
                guard metadata.topics[partition.topic] != nil else {
                    throw .broker(.unknownTopicOrPartition, context: "offsets of \(partition)")
                }
                guard let leader = metadata.leader(of: partition.topic, partition: partition.partition) else {
                    throw .broker(.leaderNotAvailable, context: "offsets of \(partition)")
                }
                byLeader[leader, default: []].append(partition)
            }
            var retriable: KafkaClientError?
            for (leader, partitions) in byLeader {
                let byTopic = Dictionary(grouping: partitions, by: \.topic)
                let request = ListOffsetsRequest(replicaId: -1, isolationLevel: isolationLevel, topics: byTopic.keys.sorted().map { topic in
                    .init(name: topic, partitions: byTopic[topic]!.map { .init(partitionIndex: $0.partition, timestamp: remaining[$0]!) })
                })
                let response: ListOffsetsResponse
                do {
                    response = try await self.connection(to: leader).get().send(request)
                } catch {
                    retriable = KafkaClientError(error, context: "ListOffsets to node \(leader)")
                    continue
                }
                for topic in response.topics {
                    for partition in topic.partitions {
                        let key = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                        let code = KafkaErrorCode(rawValue: partition.errorCode)
                        guard code == .none else {
                            let error = KafkaClientError.broker(code, context: "offsets of \(key)")
                            guard code.isRetriable else { throw error }
                            retriable = error
                            continue
                        }
                        result[key] = partition.offset >= 0
                            ? OffsetAndTimestamp(offset: partition.offset, timestamp: partition.timestamp,
                                                 leaderEpoch: partition.leaderEpoch >= 0 ? partition.leaderEpoch : nil)
                            : .some(nil)
                        remaining[key] = nil
                    }
                }
            }
            if let retriable {
                self.invalidateMetadata()
                throw retriable
            }
        }
        return result
    }

    /// Runs `attempt` until it succeeds, throws what is not retriable, or `deadline` passes (then its last error is
    /// thrown), backing off by `retry.backoff.ms` between tries.
    func retrying<T>(until deadline: ContinuousClock.Instant, _ what: String,
                     _ attempt: () async throws(KafkaClientError) -> T) async throws(KafkaClientError) -> T {
        var tries = 0
        while true {
            do {
                return try await attempt()
            } catch {
                tries += 1
                let pause = min(configuration.retryBackoff * (1 << min(tries - 1, 10)), configuration.retryBackoffMax)
                guard error.isRetriable, ContinuousClock.now + pause < deadline, !Task.isCancelled else { throw error }
                logger.debug("\(what) failed, retrying: \(error)")
                try? await Task.sleep(for: pause)
            }
        }
    }

    /// Any broker, its failure typed.
    func anyBrokerTyped() async throws(KafkaClientError) -> BrokerConnection {
        do {
            return try await anyBroker()
        } catch {
            throw KafkaClientError(error, context: "connecting")
        }
    }
}

extension BrokerConnection {
    /// `send`, its failure typed.
    func sendTyped<Request: KafkaRequest>(_ request: Request) async throws(KafkaClientError) -> Request.Response {
        do {
            return try await send(request)
        } catch {
            throw KafkaClientError(error, context: "\(Request.apiKey)")
        }
    }
}

extension KafkaClientError {
    /// Any error as a client error: client errors as they are; others (NIO's channel errors) come from the
    /// connection, so they are reported as a failed connection, which is retriable.
    init(_ error: any Error, context: String) {
        if let error = error as? KafkaClientError {
            self = error
        } else {
            self = .connectionFailed(broker: context, reason: "\(error)")
        }
    }
}
