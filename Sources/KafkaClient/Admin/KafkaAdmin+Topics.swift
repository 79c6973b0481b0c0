import KafkaProtocol
import NIOCore

/// Topics: create, delete, add partitions, list, describe; and the cluster's brokers.
extension KafkaAdmin {
    /// Creates topics (at the controller) and returns what was made of each. With `validateOnly`, the controller
    /// only checks that it could. A topic that already exists is TOPIC_ALREADY_EXISTS.
    @discardableResult
    public func createTopics(_ topics: [NewTopic], validateOnly: Bool = false) async throws(KafkaAdminError) -> [CreatedTopic] {
        if let bad = topics.first(where: { $0.name.isEmpty || ($0.partitions ?? 1) < 1 || ($0.replicationFactor ?? 1) < 1 }) {
            throw .invalidArgument("topic \"\(bad.name)\": the name must not be empty and partitions and replication factor must be at least 1")
        }
        var created: [String: CreatedTopic] = [:]
        try await retrying("CreateTopics") { deadline in
            let pending = topics.filter { created[$0.name] == nil }
            let request = CreateTopicsRequest(
                topics: pending.map { topic in
                    .init(name: topic.name, numPartitions: topic.partitions ?? -1,
                          replicationFactor: topic.replicationFactor ?? -1, assignments: [],
                          configs: topic.configs.sorted { $0.key < $1.key }.map { .init(name: $0.key, value: $0.value) })
                },
                timeoutMs: brokerTimeoutMs, validateOnly: validateOnly)
            let response = try await onController { try await send(request, to: $0, before: deadline) }
            var retriable: KafkaAdminError?
            for result in response.topics {
                let code = KafkaErrorCode(rawValue: result.errorCode)
                guard code.isError else {
                    let asked = pending.first { $0.name == result.name }
                    created[result.name] = CreatedTopic(
                        name: result.name, id: result.topicId,
                        partitions: result.numPartitions >= 0 ? result.numPartitions : asked?.partitions ?? -1,
                        replicationFactor: result.replicationFactor >= 0 ? result.replicationFactor : asked?.replicationFactor ?? -1)
                    continue
                }
                if code == .notController { cluster.invalidateMetadata() }
                let error = Self.brokerError(code, "create topic \(result.name)", message: result.errorMessage)
                guard error.isRetriable else { throw error }
                retriable = error
            }
            if let retriable { throw retriable }
        }
        return topics.compactMap { created[$0.name] }
    }

    /// Creates one topic; see ``createTopics(_:validateOnly:)``.
    @discardableResult
    public func createTopic(_ name: String, partitions: Int32? = nil, replicationFactor: Int16? = nil,
                            configs: [String: String] = [:]) async throws(KafkaAdminError) -> CreatedTopic {
        let created = try await createTopics([NewTopic(name: name, partitions: partitions, replicationFactor: replicationFactor,
                                                       configs: configs)])
        guard let topic = created.first else { throw .broker(.unknownServerError, context: "create topic \(name): no result") }
        return topic
    }

    /// Deletes topics and their records (at the controller). An unknown topic is UNKNOWN_TOPIC_OR_PARTITION.
    public func deleteTopics(_ names: [String]) async throws(KafkaAdminError) {
        var deleted: Set<String> = []
        try await retrying("DeleteTopics") { deadline in
            let pending = names.filter { !deleted.contains($0) }
            let response = try await onController { connection in
                // v6 lists topics as name-or-id pairs; earlier versions by name.
                let request = try connection.version(for: DeleteTopicsRequest.self) >= 6
                    ? DeleteTopicsRequest(topics: pending.map { .init(name: $0, topicId: .zero) }, timeoutMs: brokerTimeoutMs)
                    : DeleteTopicsRequest(topicNames: pending, timeoutMs: brokerTimeoutMs)
                return try await send(request, to: connection, before: deadline)
            }
            var retriable: KafkaAdminError?
            for result in response.responses {
                let name = result.name ?? "\(result.topicId)"
                let code = KafkaErrorCode(rawValue: result.errorCode)
                guard code.isError else {
                    deleted.insert(name)
                    continue
                }
                if code == .notController { cluster.invalidateMetadata() }
                let error = Self.brokerError(code, "delete topic \(name)", message: result.errorMessage)
                guard error.isRetriable else { throw error }
                retriable = error
            }
            if let retriable { throw retriable }
        }
    }

    /// Grows topics to the given partition counts (totals, not increments), at the controller.
    public func createPartitions(_ totals: [String: Int32], validateOnly: Bool = false) async throws(KafkaAdminError) {
        var done: Set<String> = []
        try await retrying("CreatePartitions") { deadline in
            let pending = totals.filter { !done.contains($0.key) }.sorted { $0.key < $1.key }
            let request = CreatePartitionsRequest(topics: pending.map { .init(name: $0.key, count: $0.value, assignments: nil) },
                                                  timeoutMs: brokerTimeoutMs, validateOnly: validateOnly)
            let response = try await onController { try await send(request, to: $0, before: deadline) }
            var retriable: KafkaAdminError?
            for result in response.results {
                let code = KafkaErrorCode(rawValue: result.errorCode)
                guard code.isError else {
                    done.insert(result.name)
                    continue
                }
                if code == .notController { cluster.invalidateMetadata() }
                let error = Self.brokerError(code, "create partitions of topic \(result.name)", message: result.errorMessage)
                guard error.isRetriable else { throw error }
                retriable = error
            }
            if let retriable { throw retriable }
        }
    }

    /// Every topic, by name; Kafka's internal topics only with `includeInternal`.
    public func listTopics(includeInternal: Bool = false) async throws(KafkaAdminError) -> [TopicListing] {
        try await retrying("ListTopics") { _ in
            let response = try await cluster.topicMetadata(nil)
            return response.topics.compactMap { topic -> TopicListing? in
                guard let name = topic.name, includeInternal || !topic.isInternal else { return nil }
                return TopicListing(name: name, id: topic.topicId, isInternal: topic.isInternal)
            }.sorted { $0.name < $1.name }
        }
    }

    /// The topics' partitions with their leaders, replicas and in-sync replicas, in the order asked. An unknown
    /// topic is UNKNOWN_TOPIC_OR_PARTITION.
    public func describeTopics(_ names: [String]) async throws(KafkaAdminError) -> [TopicDescription] {
        try await retrying("DescribeTopics") { _ in
            let response = try await cluster.topicMetadata(names)
            return try names.map { name throws(KafkaAdminError) -> TopicDescription in
                guard let topic = response.topics.first(where: { $0.name == name }) else {
                    throw .broker(.unknownTopicOrPartition, context: "describe topic \(name)")
                }
                let code = KafkaErrorCode(rawValue: topic.errorCode)
                if code.isError { throw .broker(code, context: "describe topic \(name)") }
                return TopicDescription(
                    name: name, id: topic.topicId, isInternal: topic.isInternal,
                    partitions: topic.partitions.sorted { $0.partitionIndex < $1.partitionIndex }.map {
                        PartitionInfo(topic: name, metadata: $0)
                    })
            }
        }
    }

    /// The cluster's id, controller and brokers: DescribeCluster where the broker has it (Kafka 2.8+), else
    /// Metadata.
    public func describeCluster() async throws(KafkaAdminError) -> ClusterDescription {
        try await retrying("DescribeCluster") { deadline in
            let connection = try await cluster.anyBroker()
            guard connection.brokerVersions[DescribeClusterRequest.apiKey] != nil else {
                let response = try await cluster.topicMetadata([])
                return ClusterDescription(
                    clusterId: response.clusterId, controller: response.controllerId >= 0 ? response.controllerId : nil,
                    brokers: response.brokers.sorted { $0.nodeId < $1.nodeId }.map {
                        .init(id: $0.nodeId, host: $0.host, port: $0.port, rack: $0.rack)
                    })
            }
            let response = try await send(DescribeClusterRequest(), to: connection, before: deadline)
            let code = KafkaErrorCode(rawValue: response.errorCode)
            if code.isError { throw Self.brokerError(code, "describe cluster", message: response.errorMessage) }
            return ClusterDescription(
                clusterId: response.clusterId, controller: response.controllerId >= 0 ? response.controllerId : nil,
                brokers: response.brokers.sorted { $0.brokerId < $1.brokerId }.map {
                    .init(id: $0.brokerId, host: $0.host, port: $0.port, rack: $0.rack)
                })
        }
    }
}
