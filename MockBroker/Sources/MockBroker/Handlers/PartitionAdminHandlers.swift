import KafkaProtocol
import NIOCore

/// DeleteRecords: moves partitions' log start offsets forward.
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

/// InitProducerId for idempotent producers: a fresh producer id with epoch 0, or, when the producer names its
/// current id and epoch (KIP-360), the same id with the epoch bumped.
struct InitProducerIdHandler: Sendable {
    let state: BrokerState

    func handle(_ request: InitProducerIdRequest, context: RequestContext) -> EventLoopFuture<InitProducerIdResponse?> {
        var response = InitProducerIdResponse(producerId: -1, producerEpoch: -1)
        if request.transactionalId != nil {
            response.errorCode = KafkaErrorCode.coordinatorNotAvailable.rawValue
            context.logger.info("InitProducerId for a transactional id: transactions are not supported by this broker yet")
        } else if request.producerId >= 0 && request.producerEpoch >= 0 && request.producerEpoch < Int16.max - 1 {
            response.producerId = request.producerId
            response.producerEpoch = request.producerEpoch + 1
        } else {
            do {
                response.producerId = try state.producerIds.nextProducerId()
                response.producerEpoch = 0
            } catch {
                context.logger.error("could not allocate a producer id: \(error)")
                response.errorCode = KafkaErrorCode.kafkaStorageError.rawValue
            }
        }
        return context.eventLoop.makeSucceededFuture(response)
    }
}

/// OffsetForLeaderEpoch: the end offset of a leader epoch, which clients use to detect log truncation after a
/// leader change. Each partition here has had one leader epoch.
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
