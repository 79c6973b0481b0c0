import KafkaProtocol
import NIOCore

/// OffsetDelete: removes a group's committed offsets (see ``GroupCoordinator/deleteOffsets(groupId:partitions:)``);
/// NOT_COORDINATOR when, in a cluster, another broker leads the group's offsets partition.
struct OffsetDeleteHandler: Sendable {
    let state: BrokerState

    func handle(_ request: OffsetDeleteRequest, context: RequestContext) -> EventLoopFuture<OffsetDeleteResponse?> {
        if let code = state.faults.groupError(api: .offsetDelete, group: request.groupId) {
            return context.eventLoop.makeSucceededFuture(OffsetDeleteResponse(errorCode: code.rawValue))
        }
        if !state.cluster.isLoneBroker, state.coordinator(of: request.groupId) != state.nodeId {
            return context.eventLoop.makeSucceededFuture(OffsetDeleteResponse(errorCode: KafkaErrorCode.notCoordinator.rawValue))
        }
        let partitions = request.topics.flatMap { topic in
            topic.partitions.map { TopicPartitionKey(topic: topic.name, partition: $0.partitionIndex) }
        }
        return state.groups.deleteOffsets(groupId: request.groupId, partitions: partitions).map { groupError, errors in
            guard groupError == .none else { return OffsetDeleteResponse(errorCode: groupError.rawValue) }
            return OffsetDeleteResponse(topics: request.topics.map { topic in
                .init(name: topic.name, partitions: topic.partitions.map { partition in
                    let code = errors[TopicPartitionKey(topic: topic.name, partition: partition.partitionIndex)] ?? .none
                    return .init(partitionIndex: partition.partitionIndex, errorCode: code.rawValue)
                })
            })
        }
    }
}
