import KafkaProtocol
import NIOCore

/// Metadata: the cluster's live brokers and controller, each partition's leader, epoch, replicas and ISR, and the requested topics
/// (all of them when the request says so). Unknown topics are created when auto-creation is on and the request
/// allows it.
struct MetadataHandler: Sendable {
    let state: BrokerState

    func handle(_ request: MetadataRequest, context: RequestContext) -> EventLoopFuture<MetadataResponse?> {
        let version = context.apiVersion
        var response = MetadataResponse(
            brokers: state.cluster.liveBrokers.map { .init(nodeId: $0.id, host: $0.host, port: $0.port, rack: nil) },
            clusterId: state.configuration.clusterId,
            controllerId: state.cluster.controllerId
        )
        // v0 has no null: an empty list there means every topic.
        let requested = version == 0 && request.topics?.isEmpty == true ? nil : request.topics
        if let requested {
            response.topics = requested.map { topic(for: $0, request: request, context: context) }
        } else {
            response.topics = state.topics.allTopics.map { describe($0, request: request) }
        }
        return context.eventLoop.makeSucceededFuture(response)
    }

    private func topic(for wanted: MetadataRequest.MetadataRequestTopic, request: MetadataRequest, context: RequestContext) -> MetadataResponse.MetadataResponseTopic {
        if let name = wanted.name {
            if let existing = state.topics.topic(named: name) { return describe(existing, request: request) }
            do throws(TopicRegistry.TopicError) {
                try TopicRegistry.validate(name: name)
            } catch {
                return .init(errorCode: KafkaErrorCode.invalidTopicException.rawValue, name: name)
            }
            guard state.configuration.autoCreateTopics, request.allowAutoTopicCreation else {
                return .init(errorCode: KafkaErrorCode.unknownTopicOrPartition.rawValue, name: name)
            }
            do throws(TopicRegistry.TopicError) {
                let created = try state.cluster.createTopic(name: name, partitions: state.configuration.defaultPartitions,
                                                            replicationFactor: -1, configs: [:], now: context.now)
                context.logger.info("auto-created topic \(name) with \(created.partitions.count) partition(s)")
                return describe(created, request: request)
            } catch .alreadyExists {
                // Created by a concurrent request.
                return state.topics.topic(named: name).map { describe($0, request: request) }
                    ?? .init(errorCode: KafkaErrorCode.unknownTopicOrPartition.rawValue, name: name)
            } catch {
                return .init(errorCode: error.code.rawValue, name: name)
            }
        }
        if let existing = state.topics.topic(id: wanted.topicId) { return describe(existing, request: request) }
        return .init(errorCode: KafkaErrorCode.unknownTopicId.rawValue, name: nil, topicId: wanted.topicId)
    }

    private func describe(_ topic: TopicRegistry.Topic, request: MetadataRequest) -> MetadataResponse.MetadataResponseTopic {
        var result = MetadataResponse.MetadataResponseTopic(errorCode: 0, name: topic.name, topicId: topic.id,
                                                            isInternal: topic.name == GroupCoordinator.offsetsTopic)
        let records = state.cluster.partitions(of: topic.name) ?? []
        let live = Set(state.cluster.liveBrokers.map(\.id))
        result.partitions = topic.partitions.map { log in
            guard Int(log.partition) < records.count else {
                return .init(errorCode: KafkaErrorCode.leaderNotAvailable.rawValue, partitionIndex: log.partition, leaderId: -1)
            }
            let record = records[Int(log.partition)]
            return .init(errorCode: record.leader >= 0 ? 0 : KafkaErrorCode.leaderNotAvailable.rawValue,
                         partitionIndex: log.partition, leaderId: record.leader, leaderEpoch: record.leaderEpoch,
                         replicaNodes: record.replicas, isrNodes: record.isr,
                         offlineReplicas: record.replicas.filter { !live.contains($0) })
        }
        if request.includeTopicAuthorizedOperations {
            result.topicAuthorizedOperations = AuthorizedOperations.topic
        }
        return result
    }
}

/// The ACL operation bit sets reported when clients ask: the mock allows everything.
enum AuthorizedOperations {
    /// READ(3) WRITE(4) CREATE(5) DELETE(6) ALTER(7) DESCRIBE(8) DESCRIBE_CONFIGS(10) ALTER_CONFIGS(11).
    static let topic: Int32 = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11)
}
