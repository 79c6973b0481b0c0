import KafkaProtocol
import NIOCore

/// ListOffsets: offsets by timestamp, exact to the record; and the special timestamps -1 (latest: the log end
/// offset, or the last stable offset for read_committed), -2 (earliest: the log start offset), -3 (the record
/// with the largest timestamp), -4 (earliest local: the log start offset) and -5 (latest tiered: none here).
struct ListOffsetsHandler: Sendable {
    let state: BrokerState

    static let latest: Int64 = -1
    static let earliest: Int64 = -2
    static let maxTimestamp: Int64 = -3
    static let earliestLocal: Int64 = -4
    static let latestTiered: Int64 = -5

    func handle(_ request: ListOffsetsRequest, context: RequestContext) -> EventLoopFuture<ListOffsetsResponse?> {
        let response = ListOffsetsResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map {
                answer($0, topic: topic.name, readCommitted: request.isolationLevel == 1, context: context)
            })
        })
        return context.eventLoop.makeSucceededFuture(response)
    }

    private func answer(_ partition: ListOffsetsRequest.ListOffsetsPartition, topic: String, readCommitted: Bool,
                        context: RequestContext) -> ListOffsetsResponse.ListOffsetsPartitionResponse {
        var result = ListOffsetsResponse.ListOffsetsPartitionResponse(partitionIndex: partition.partitionIndex)
        if let injected = state.faults.partitionError(api: .listOffsets, topic: topic, partition: partition.partitionIndex) {
            result.errorCode = injected.rawValue
            return result
        }
        guard let log = state.topics.partition(topic, partition.partitionIndex) else {
            result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
            return result
        }
        guard log.isLeader else {
            result.errorCode = KafkaErrorCode.notLeaderOrFollower.rawValue
            return result
        }
        let epoch = log.currentLeaderEpoch
        if partition.currentLeaderEpoch >= 0 && partition.currentLeaderEpoch != epoch {
            result.errorCode = (partition.currentLeaderEpoch > epoch ? KafkaErrorCode.unknownLeaderEpoch : .fencedLeaderEpoch).rawValue
            return result
        }
        let offsets = log.offsets
        result.leaderEpoch = epoch
        switch partition.timestamp {
        case Self.latest:
            result.offset = readCommitted ? offsets.lastStableOffset : offsets.highWatermark
        case Self.earliest, Self.earliestLocal:
            result.offset = offsets.logStartOffset
        case Self.latestTiered:
            result.offset = -1
        default:
            do {
                let found = partition.timestamp == Self.maxTimestamp
                    ? try log.maxTimestampRecord()
                    : try log.offset(forTimestamp: partition.timestamp)
                if let found {
                    result.offset = found.offset
                    result.timestamp = found.timestamp
                } else {
                    result.offset = -1
                    result.leaderEpoch = -1
                }
            } catch {
                context.logger.error("offset lookup in \(topic)-\(partition.partitionIndex) failed: \(error)")
                result.errorCode = KafkaErrorCode.kafkaStorageError.rawValue
            }
        }
        return result
    }
}
