import KafkaProtocol
import NIOCore

/// CreateTopics, DeleteTopics and CreatePartitions.
struct TopicAdminHandler: Sendable {
    let state: BrokerState

    /// Kafka's controller refuses a request that would create more partitions than this in all (its
    /// `MAX_PARTITIONS_PER_BATCH`). The count fields are client-chosen int32s: without a cap, one request could
    /// keep the broker creating partition files for hours.
    static let maxPartitionsPerRequest = 10_000

    func createTopics(_ request: CreateTopicsRequest, context: RequestContext) -> EventLoopFuture<CreateTopicsResponse?> {
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
            if let bad = topic.assignments.first(where: { $0.brokerIds != [state.nodeId] }) {
                result.errorCode = KafkaErrorCode.invalidReplicaAssignment.rawValue
                result.errorMessage = "Partition \(bad.partitionIndex) must be assigned to broker \(state.nodeId) only."
                return result
            }
            let partitions = assigned ?? (topic.numPartitions == -1 ? state.configuration.defaultPartitions : topic.numPartitions)
            let replicationFactor = topic.assignments.isEmpty ? (topic.replicationFactor == -1 ? 1 : topic.replicationFactor) : 1
            var configs: [String: String] = [:]
            for config in topic.configs { configs[config.name] = config.value }
            do throws(TopicRegistry.TopicError) {
                let created = try state.topics.create(name: topic.name, partitions: partitions, replicationFactor: replicationFactor,
                                                      configs: configs, validateOnly: request.validateOnly, now: context.now)
                result.topicId = created.id
                result.numPartitions = partitions
                result.replicationFactor = replicationFactor
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

    func deleteTopics(_ request: DeleteTopicsRequest, context: RequestContext) -> EventLoopFuture<DeleteTopicsResponse?> {
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
                let deleted = try state.topics.delete(name: name)
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

    func createPartitions(_ request: CreatePartitionsRequest, context: RequestContext) -> EventLoopFuture<CreatePartitionsResponse?> {
        // Kafka's controller fails the whole request when it would write more records than one batch holds.
        let added = request.topics.reduce(0) { total, topic in
            let current = state.topics.topic(named: topic.name)?.partitions.count ?? Int(topic.count)
            return total + max(Int(topic.count) - current, 0)
        }
        guard added <= Self.maxPartitionsPerRequest else {
            return context.eventLoop.makeSucceededFuture(CreatePartitionsResponse(results: request.topics.map {
                CreatePartitionsResponse.CreatePartitionsTopicResult(
                    name: $0.name, errorCode: KafkaErrorCode.policyViolation.rawValue,
                    errorMessage: "Unable to perform excessively large batch operation.")
            }))
        }
        let response = CreatePartitionsResponse(results: request.topics.map { topic in
            var result = CreatePartitionsResponse.CreatePartitionsTopicResult(name: topic.name)
            do throws(TopicRegistry.TopicError) {
                try state.topics.addPartitions(name: topic.name, count: topic.count, validateOnly: request.validateOnly,
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

/// `ConfigSource` values of DescribeConfigs / CreateTopics.
enum ConfigSource {
    static let topic: Int8 = 1
    static let staticBroker: Int8 = 4
    static let defaultConfig: Int8 = 5
}
