import KafkaProtocol
import NIOCore

/// DeleteTopics, by name or (v6+) by id.
struct DeleteTopicsHandler: Sendable {
    let state: BrokerState

    func handle(_ request: DeleteTopicsRequest, context: RequestContext) -> EventLoopFuture<DeleteTopicsResponse?> {
        // v6 names topics by name or id; earlier versions by name only.
        let wanted: [(name: String?, id: KafkaUUID)] = context.apiVersion >= 6
            ? request.topics.map { ($0.name, $0.topicId) }
            : request.topicNames.map { ($0, KafkaUUID.zero) }
        let response = DeleteTopicsResponse(responses: wanted.map { topic in
            var result = DeleteTopicsResponse.DeletableTopicResult(name: topic.name, topicId: topic.id)
            let name = topic.name ?? state.topics.topic(id: topic.id)?.name
            guard let name else {
                result.errorCode = KafkaErrorCode.unknownTopicId.rawValue
                return result
            }
            do throws(TopicRegistry.TopicError) {
                let deleted = try state.cluster.deleteTopic(name: name)
                result.name = deleted.name
                result.topicId = deleted.id
                context.logger.info("deleted topic \(name)")
            } catch {
                result.errorCode = error.code.rawValue
                result.errorMessage = error.message
            }
            return result
        })
        return context.eventLoop.makeSucceededFuture(response)
    }

}
