import KafkaProtocol
import NIOCore

/// ElectLeaders: on a single broker every partition already has its preferred (and only) replica as leader, so
/// each named partition is ELECTION_NOT_NEEDED, as Kafka answers when the wanted leader already leads; unknown
/// ones are UNKNOWN_TOPIC_OR_PARTITION. A request for all partitions (null) lists only partitions where an
/// election happened: none.
struct ElectLeadersHandler: Sendable {
    let state: BrokerState

    func handle(_ request: ElectLeadersRequest, context: RequestContext) -> EventLoopFuture<ElectLeadersResponse?> {
        var response = ElectLeadersResponse()
        if context.apiVersion >= 1 && request.electionType != 0 && request.electionType != 1 {
            response.errorCode = KafkaErrorCode.invalidRequest.rawValue
            return context.eventLoop.makeSucceededFuture(response)
        }
        response.replicaElectionResults = (request.topicPartitions ?? []).map { topic in
            .init(topic: topic.topic, partitionResult: topic.partitions.map { partition in
                guard state.topics.partition(topic.topic, partition) != nil else {
                    return .init(partitionId: partition, errorCode: KafkaErrorCode.unknownTopicOrPartition.rawValue,
                                 errorMessage: "The partition does not exist.")
                }
                return .init(partitionId: partition, errorCode: KafkaErrorCode.electionNotNeeded.rawValue,
                             errorMessage: "Leader election not needed for topic partition.")
            })
        }
        return context.eventLoop.makeSucceededFuture(response)
    }
}
