import KafkaProtocol
import NIOCore

/// OffsetForLeaderEpoch: the end offset of a leader epoch, which clients use to detect log truncation after a
/// leader change, from the leader's epoch cache (followers ask it too, to truncate a diverged log).
struct OffsetForLeaderEpochHandler: Sendable {
    let state: BrokerState

    func handle(_ request: OffsetForLeaderEpochRequest, context: RequestContext) -> EventLoopFuture<OffsetForLeaderEpochResponse?> {
        let response = OffsetForLeaderEpochResponse(topics: request.topics.map { topic in
            .init(topic: topic.topic, partitions: topic.partitions.map { partition in
                var result = OffsetForLeaderEpochResponse.EpochEndOffset(partition: partition.partition)
                guard let log = state.topics.partition(topic.topic, partition.partition) else {
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
                } else if let end = log.endOffset(forEpoch: partition.leaderEpoch) {
                    result.leaderEpoch = end.epoch
                    result.endOffset = end.endOffset
                } else {
                    // An epoch newer than any: Kafka answers with undefined epoch and offset.
                    result.leaderEpoch = -1
                    result.endOffset = -1
                }
                return result
            })
        })
        return context.eventLoop.makeSucceededFuture(response)
    }
}
