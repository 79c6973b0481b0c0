import KafkaProtocol
import NIOCore

/// CreateTopics.
struct CreateTopicsHandler: Sendable {
    let state: BrokerState

    /// Kafka's controller refuses a request that would create more partitions than this in all (its
    /// `MAX_PARTITIONS_PER_BATCH`). The count fields are client-chosen int32s: without a cap, one request could
    /// keep the broker creating partition files for hours.
    static let maxPartitionsPerRequest = 10_000

    func handle(_ request: CreateTopicsRequest, context: RequestContext) -> EventLoopFuture<CreateTopicsResponse?> {
        // As Kafka's validateTotalNumberOfPartitions counts them: assignments, else a positive count or the default.
        let requested = request.topics.reduce(0) { total, topic in
            let count = topic.assignments.isEmpty
                ? Int(topic.numPartitions == -1 ? state.configuration.defaultPartitions : max(topic.numPartitions, 0))
                : topic.assignments.count
            return total + count
        }
        guard requested <= Self.maxPartitionsPerRequest else {
            return context.eventLoop.makeSucceededFuture(CreateTopicsResponse(topics: request.topics.map {
                CreateTopicsResponse.CreatableTopicResult(name: $0.name, errorCode: KafkaErrorCode.policyViolation.rawValue,
                                                          errorMessage: "Excessively large number of partitions per request.")
            }))
        }
        let response = CreateTopicsResponse(topics: request.topics.map { topic in
            var result = CreateTopicsResponse.CreatableTopicResult(name: topic.name)
            let assigned = topic.assignments.isEmpty ? nil : Int32(topic.assignments.count)
            if !topic.assignments.isEmpty && (topic.numPartitions != -1 || topic.replicationFactor != -1) {
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "Both numPartitions or replicationFactor and replicasAssignments were set."
                return result
            }
            let brokers = Set(state.cluster.brokers.filter(\.registered).map(\.id))
            let sortedAssignments = topic.assignments.sorted { $0.partitionIndex < $1.partitionIndex }
            if let bad = sortedAssignments.enumerated().first(where: { index, assignment in
                assignment.partitionIndex != Int32(index) || assignment.brokerIds.isEmpty
                    || Set(assignment.brokerIds).count != assignment.brokerIds.count
                    || !assignment.brokerIds.allSatisfy(brokers.contains)
                    || assignment.brokerIds.count != sortedAssignments[0].brokerIds.count
            }) {
                result.errorCode = KafkaErrorCode.invalidReplicaAssignment.rawValue
                result.errorMessage = "Partition \(bad.element.partitionIndex) has an invalid assignment \(bad.element.brokerIds): partitions must be numbered from 0, each with the same number of distinct registered brokers."
                return result
            }
            let partitions = assigned ?? (topic.numPartitions == -1 ? state.configuration.defaultPartitions : topic.numPartitions)
            let replicationFactor = sortedAssignments.first.map { Int16($0.brokerIds.count) } ?? topic.replicationFactor
            var configs: [String: String] = [:]
            for config in topic.configs { configs[config.name] = config.value }
            do throws(TopicRegistry.TopicError) {
                let created = try state.cluster.createTopic(
                    name: topic.name, partitions: partitions, replicationFactor: replicationFactor, configs: configs,
                    assignment: sortedAssignments.isEmpty ? nil : sortedAssignments.map(\.brokerIds),
                    validateOnly: request.validateOnly, now: context.now)
                result.topicId = created.id
                result.numPartitions = partitions
                result.replicationFactor = replicationFactor == -1 ? state.cluster.settings.defaultReplicationFactor : replicationFactor
                result.configs = created.config.entries.map { entry in
                    .init(name: entry.name, value: entry.value, readOnly: false,
                          configSource: configs[entry.name] == nil ? ConfigSource.defaultConfig : ConfigSource.topic,
                          isSensitive: false)
                }
                if !request.validateOnly { context.logger.info("created topic \(topic.name) with \(partitions) partition(s)") }
            } catch {
                result.errorCode = error.code.rawValue
                result.errorMessage = error.message
            }
            return result
        })
        return context.eventLoop.makeSucceededFuture(response)
    }

}
