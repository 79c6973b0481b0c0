import KafkaProtocol
import NIOCore

/// CreatePartitions: grows topics.
struct CreatePartitionsHandler: Sendable {
    let state: BrokerState

    func handle(_ request: CreatePartitionsRequest, context: RequestContext) -> EventLoopFuture<CreatePartitionsResponse?> {
        // Kafka's controller fails the whole request when it would write more records than one batch holds.
        let added = request.topics.reduce(0) { total, topic in
            let current = state.topics.topic(named: topic.name)?.partitions.count ?? Int(topic.count)
            return total + max(Int(topic.count) - current, 0)
        }
        guard added <= CreateTopicsHandler.maxPartitionsPerRequest else {
            return context.eventLoop.makeSucceededFuture(CreatePartitionsResponse(results: request.topics.map {
                CreatePartitionsResponse.CreatePartitionsTopicResult(
                    name: $0.name, errorCode: KafkaErrorCode.policyViolation.rawValue,
                    errorMessage: "Unable to perform excessively large batch operation.")
            }))
        }
        let response = CreatePartitionsResponse(results: request.topics.map { topic in
            var result = CreatePartitionsResponse.CreatePartitionsTopicResult(name: topic.name)
            do throws(TopicRegistry.TopicError) {
                try state.cluster.addPartitions(name: topic.name, count: topic.count, validateOnly: request.validateOnly,
                                               now: context.now)
            } catch {
                result.errorCode = error.code.rawValue
                result.errorMessage = error.message
            }
            return result
        })
        return context.eventLoop.makeSucceededFuture(response)
    }
}
