import KafkaProtocol
import NIOCore

/// Partitions: offsets by time or position, deleting records, electing leaders.
extension KafkaAdmin {
    /// Looks up offsets at the partitions' leaders: the log start or end, the record with the largest timestamp,
    /// or the first record at or after a time (a partition without such a record is left out of the result, as
    /// ``KafkaConsumer/offsetsForTimes(_:timeout:)`` leaves it out). With `.readCommitted`, "latest" is the last
    /// stable offset. An unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION at once.
    public func listOffsets(
        _ specs: [TopicPartition: OffsetSpec],
        isolationLevel: ConsumerConfiguration.IsolationLevel = .readUncommitted
    ) async throws(KafkaAdminError) -> [TopicPartition: OffsetAndTimestamp] {
        var found: [TopicPartition: OffsetAndTimestamp] = [:]
        var answered: Set<TopicPartition> = []
        try await retrying("ListOffsets") { deadline in
            var retriable: KafkaAdminError?
            for (leader, partitions) in try await leaders(of: specs.keys.filter { !answered.contains($0) }) {
                let request = ListOffsetsRequest(
                    replicaId: -1, isolationLevel: isolationLevel.rawValue,
                    topics: partitions.byTopic.map { topic in
                        .init(name: topic.topic, partitions: topic.partitions.map { partition in
                            .init(partitionIndex: partition,
                                  timestamp: specs[TopicPartition(topic: topic.topic, partition: partition)]!.wireTimestamp)
                        })
                    },
                    timeoutMs: brokerTimeoutMs)
                let response = try await send(request, to: brokerConnection(leader), before: deadline)
                for topic in response.topics {
                    for partition in topic.partitions {
                        let key = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                        let code = KafkaErrorCode(rawValue: partition.errorCode)
                        guard code.isError else {
                            answered.insert(key)
                            if partition.offset >= 0 {
                                found[key] = OffsetAndTimestamp(offset: partition.offset, timestamp: partition.timestamp,
                                                                leaderEpoch: partition.leaderEpoch >= 0 ? partition.leaderEpoch : nil)
                            }
                            continue
                        }
                        let error = KafkaAdminError.broker(code, context: "list offsets of \(key)")
                        guard error.isRetriable else { throw error }
                        cluster.invalidateMetadata()
                        retriable = error
                    }
                }
            }
            if let retriable { throw retriable }
        }
        return found
    }

    /// Deletes the records before the given offsets (moving each partition's log start offset up to it; -1 means
    /// the high watermark) and returns the new log start offsets.
    @discardableResult
    public func deleteRecords(before offsets: [TopicPartition: Int64]) async throws(KafkaAdminError) -> [TopicPartition: Int64] {
        var lowWatermarks: [TopicPartition: Int64] = [:]
        try await retrying("DeleteRecords") { deadline in
            var retriable: KafkaAdminError?
            for (leader, partitions) in try await leaders(of: offsets.keys.filter { lowWatermarks[$0] == nil }) {
                let request = DeleteRecordsRequest(
                    topics: partitions.byTopic.map { topic in
                        .init(name: topic.topic, partitions: topic.partitions.map {
                            .init(partitionIndex: $0, offset: offsets[TopicPartition(topic: topic.topic, partition: $0)]!)
                        })
                    },
                    timeoutMs: brokerTimeoutMs)
                let response = try await send(request, to: brokerConnection(leader), before: deadline)
                for topic in response.topics {
                    for partition in topic.partitions {
                        let key = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                        let code = KafkaErrorCode(rawValue: partition.errorCode)
                        guard code.isError else {
                            lowWatermarks[key] = partition.lowWatermark
                            continue
                        }
                        let error = KafkaAdminError.broker(code, context: "delete records of \(key)")
                        guard error.isRetriable else { throw error }
                        cluster.invalidateMetadata()
                        retriable = error
                    }
                }
            }
            if let retriable { throw retriable }
        }
        return lowWatermarks
    }

    /// Elects leaders (at the controller): the preferred replica, or with `.unclean` any live replica where no
    /// in-sync replica is left. `partitions` nil means every partition. A partition whose wanted leader already
    /// leads is ``LeaderElectionResult/notNeeded``.
    public func electLeaders(_ type: ElectionType = .preferred,
                             partitions: [TopicPartition]? = nil) async throws(KafkaAdminError) -> [TopicPartition: LeaderElectionResult] {
        try await retrying("ElectLeaders") { deadline in
            let request = ElectLeadersRequest(electionType: type.rawValue,
                                              topicPartitions: partitions?.byTopic.map { .init(topic: $0.topic, partitions: $0.partitions) },
                                              timeoutMs: brokerTimeoutMs)
            let response = try await onController { try await send(request, to: $0, before: deadline) }
            let code = KafkaErrorCode(rawValue: response.errorCode)
            if code.isError {
                if code == .notController { cluster.invalidateMetadata() }
                throw KafkaAdminError.broker(code, context: "elect leaders")
            }
            var results: [TopicPartition: LeaderElectionResult] = [:]
            for topic in response.replicaElectionResults {
                for partition in topic.partitionResult {
                    let key = TopicPartition(topic: topic.topic, partition: partition.partitionId)
                    results[key] = switch KafkaErrorCode(rawValue: partition.errorCode) {
                    case .none: .elected
                    case .electionNotNeeded: .notNeeded
                    case let failure: .failed(failure, message: partition.errorMessage)
                    }
                }
            }
            return results
        }
    }
}
