import KafkaProtocol
import NIOCore

/// DeleteRecords: moves partitions' log start offsets forward (up to the high watermark), on their leaders.
struct DeleteRecordsHandler: Sendable {
    let state: BrokerState

    func handle(_ request: DeleteRecordsRequest, context: RequestContext) -> EventLoopFuture<DeleteRecordsResponse?> {
        let response = DeleteRecordsResponse(topics: request.topics.map { topic in
            .init(name: topic.name, partitions: topic.partitions.map { partition in
                var result = DeleteRecordsResponse.DeleteRecordsPartitionResult(partitionIndex: partition.partitionIndex,
                                                                                lowWatermark: -1)
                guard let log = state.topics.partition(topic.name, partition.partitionIndex) else {
                    result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
                    return result
                }
                // The leader moves the log start; followers take it from its fetch answers.
                guard log.isLeader else {
                    result.errorCode = KafkaErrorCode.notLeaderOrFollower.rawValue
                    return result
                }
                do throws(PartitionLog.ReadError) {
                    result.lowWatermark = try log.deleteRecords(before: partition.offset)
                } catch {
                    result.errorCode = (error == .offsetOutOfRange ? KafkaErrorCode.offsetOutOfRange : .kafkaStorageError).rawValue
                }
                return result
            })
        })
        return context.eventLoop.makeSucceededFuture(response)
    }
}
