import KafkaProtocol
import NIOCore

/// DescribeConfigs for topics (their log settings, saying which were set on the topic) and for the broker.
struct DescribeConfigsHandler: Sendable {
    let state: BrokerState

    static let topicResource: Int8 = 2
    static let brokerResource: Int8 = 4

    func handle(_ request: DescribeConfigsRequest, context: RequestContext) -> EventLoopFuture<DescribeConfigsResponse?> {
        let response = DescribeConfigsResponse(results: request.resources.map { resource in
            var result = DescribeConfigsResponse.DescribeConfigsResult(
                resourceType: resource.resourceType, resourceName: resource.resourceName)
            let wanted = resource.configurationKeys.map(Set.init)
            switch resource.resourceType {
            case Self.topicResource:
                guard let topic = state.topics.topic(named: resource.resourceName) else {
                    result.errorCode = KafkaErrorCode.unknownTopicOrPartition.rawValue
                    result.errorMessage = "Topic \(resource.resourceName) does not exist."
                    return result
                }
                result.configs = topic.config.entries.filter { wanted?.contains($0.name) ?? true }.map { entry in
                    let set = topic.overrides[entry.name] != nil
                    return .init(name: entry.name, value: entry.value, readOnly: false,
                                 configSource: set ? ConfigSource.topic : ConfigSource.defaultConfig, isSensitive: false)
                }
            case Self.brokerResource:
                guard resource.resourceName.isEmpty || resource.resourceName == String(state.nodeId) else {
                    result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                    result.errorMessage = "Unexpected broker id \(resource.resourceName)."
                    return result
                }
                result.configs = brokerEntries.filter { wanted?.contains($0.0) ?? true }.map { entry in
                    .init(name: entry.0, value: entry.1, readOnly: true, configSource: ConfigSource.staticBroker,
                          isSensitive: false)
                }
            default:
                result.errorCode = KafkaErrorCode.invalidRequest.rawValue
                result.errorMessage = "Unsupported resource type \(resource.resourceType)."
            }
            return result
        })
        return context.eventLoop.makeSucceededFuture(response)
    }

    private var brokerEntries: [(String, String)] {
        let configuration = state.configuration
        return [
            ("auto.create.topics.enable", String(configuration.autoCreateTopics)),
            ("broker.id", String(configuration.nodeId)),
            ("group.initial.rebalance.delay.ms", String(configuration.groupInitialRebalanceDelay.nanoseconds / 1_000_000)),
            ("group.max.session.timeout.ms", String(configuration.groupMaxSessionTimeout.nanoseconds / 1_000_000)),
            ("group.max.size", String(configuration.groupMaxSize)),
            ("group.min.session.timeout.ms", String(configuration.groupMinSessionTimeout.nanoseconds / 1_000_000)),
            ("log.retention.check.interval.ms", String(configuration.retentionCheckInterval.nanoseconds / 1_000_000)),
            ("max.incremental.fetch.session.cache.slots", String(configuration.maxFetchSessions)),
            ("message.max.bytes", String(configuration.log.maxMessageBytes)),
            ("node.id", String(configuration.nodeId)),
            ("num.partitions", String(configuration.defaultPartitions)),
            ("offset.metadata.max.bytes", String(configuration.offsetMetadataMaxBytes)),
            ("offsets.retention.check.interval.ms", String(configuration.offsetsRetentionCheckInterval.nanoseconds / 1_000_000)),
            ("offsets.retention.minutes", String(configuration.offsetsRetention.nanoseconds / 60_000_000_000)),
            ("socket.request.max.bytes", String(configuration.socketRequestMaxBytes)),
        ] + configuration.log.entries.map { ("log." + $0.name, $0.value) }
    }
}
