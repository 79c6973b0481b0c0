import KafkaProtocol
import NIOCore

/// Where a request goes. All routing of the clients (producer, consumer, admin) goes through here: to a
/// partition's leader (from the metadata), to a coordinator cached by type and key, or to any broker.
extension ClusterClient {
    /// The coordinator kinds FindCoordinator knows (its `KeyType`).
    enum CoordinatorType: Int8, Sendable, Hashable {
        /// A consumer group's coordinator, keyed by `group.id`.
        case group = 0
        /// A transactional producer's coordinator, keyed by `transactional.id`.
        case transaction = 1
    }

    /// The leader of `partition` from the current metadata, nil when unknown (the caller refreshes).
    func leader(of partition: TopicPartition) -> Int32? {
        metadata.leader(of: partition.topic, partition: partition.partition)
    }

    /// A connection to any broker: one already connected if there is one, else the first known broker or
    /// bootstrap server that is not backing off. For requests any broker answers (Metadata, FindCoordinator,
    /// ApiVersions, DescribeCluster).
    func anyBroker(for purpose: Purpose = .data) async throws -> BrokerConnection {
        try await connection(to: metadataNode(for: purpose), for: purpose).get()
    }

    /// A connection to the controller, where CreateTopics, DeleteTopics, CreatePartitions and ElectLeaders go (as
    /// the Java admin sends them): the `ControllerId` of the latest Metadata, refreshed first when the metadata is
    /// stale or names no controller (call ``invalidateMetadata()`` after NOT_CONTROLLER). A cluster that names
    /// none gets the request at any broker, which forwards it.
    func controllerConnection() async throws -> BrokerConnection {
        var known = metadata
        if known.controllerId < 0 || known.brokers[known.controllerId] == nil || metadataIsStale {
            known = try await refreshMetadata(allowAutoTopicCreation: false).get()
        }
        guard known.controllerId >= 0, known.brokers[known.controllerId] != nil else { return try await anyBroker() }
        return try await connection(to: known.controllerId).get()
    }

    /// Metadata for `topics` (every topic when nil) from any broker, never creating a topic; what it says about
    /// brokers, the controller and the topics' leaders is kept. For callers that need more than
    /// ``ClusterMetadata`` holds (replicas, ISR) or must not add topics to the periodic refreshes (the admin).
    func topicMetadata(_ topics: [String]?) async throws -> MetadataResponse {
        let connection = try await anyBroker()
        let response = try await connection.send(MetadataRequest(topics: topics.map { $0.map { .init(name: $0) } },
                                                                 allowAutoTopicCreation: false))
        state.withLockedValue { $0.metadata.merge(response, requestedAll: false) }
        return response
    }

    /// The coordinator of `key`: the cached node, else found with FindCoordinator (asked of any broker over a
    /// coordination connection, which no fetch long poll holds up). The answer is cached until
    /// ``forgetCoordinator(_:key:)``, which callers use after NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE or a
    /// failed connection.
    func coordinator(_ type: CoordinatorType, key: String) async throws -> Int32 {
        if let known = state.withLockedValue({ $0.coordinators[CoordinatorKey(type: type, key: key)] }) { return known }
        if metadata.brokers.isEmpty { _ = try await refreshMetadata().get() }
        let connection = try await anyBroker(for: .coordination)
        let version = try connection.version(for: FindCoordinatorRequest.self)
        // v4+ (KIP-699) asks for a list of keys; earlier versions for one.
        let response = try await connection.send(version >= 4
            ? FindCoordinatorRequest(keyType: type.rawValue, coordinatorKeys: [key])
            : FindCoordinatorRequest(key: key, keyType: type.rawValue))
        let (code, node, host, port) = version >= 4
            ? response.coordinators.first.map { ($0.errorCode, $0.nodeId, $0.host, $0.port) }
                ?? (KafkaErrorCode.coordinatorNotAvailable.rawValue, -1, "", -1)
            : (response.errorCode, response.nodeId, response.host, response.port)
        guard code == 0, node >= 0 else {
            throw KafkaClientError.broker(KafkaErrorCode(rawValue: code), context: "FindCoordinator for \(key)")
        }
        learnBroker(node, address: BrokerAddress(host: host, port: Int(port)))
        state.withLockedValue { $0.coordinators[CoordinatorKey(type: type, key: key)] = node }
        logger.debug("coordinator of \(key) is node \(node) (\(host):\(port))", metadata: ["kafka.node": "\(node)"])
        return node
    }

    /// A connection to the coordinator of `key` (see ``coordinator(_:key:)``); a coordinator that cannot be reached
    /// is forgotten, so the next call looks for it again.
    func coordinatorConnection(_ type: CoordinatorType, key: String) async throws -> BrokerConnection {
        let node = try await coordinator(type, key: key)
        do {
            return try await connection(to: node, for: .coordination).get()
        } catch {
            forgetCoordinator(type, key: key)
            throw error
        }
    }

    /// Drops the cached coordinator of `key` (it moved, or is unreachable).
    func forgetCoordinator(_ type: CoordinatorType, key: String) {
        state.withLockedValue { _ = $0.coordinators.removeValue(forKey: CoordinatorKey(type: type, key: key)) }
    }

    /// The cached coordinator of `key`, if any (no request is made).
    func cachedCoordinator(_ type: CoordinatorType, key: String) -> Int32? {
        state.withLockedValue { $0.coordinators[CoordinatorKey(type: type, key: key)] }
    }

    struct CoordinatorKey: Hashable, Sendable {
        var type: CoordinatorType
        var key: String
    }
}
