import KafkaProtocol

/// What the client knows about the cluster: brokers, and each topic's partitions and their leaders.
public struct ClusterMetadata: Sendable {
    public struct Partition: Sendable, Hashable {
        public var id: Int32
        /// -1 while the partition has no leader.
        public var leader: Int32
        public var leaderEpoch: Int32
        public var error: KafkaErrorCode
    }

    public struct Topic: Sendable {
        public var name: String
        public var id: KafkaUUID
        public var error: KafkaErrorCode
        public var partitions: [Partition]
    }

    public var clusterId: String?
    public var controllerId: Int32
    public var brokers: [Int32: BrokerAddress]
    public var topics: [String: Topic]

    public init() {
        clusterId = nil
        controllerId = -1
        brokers = [:]
        topics = [:]
    }

    /// The leader of a partition, when known.
    public func leader(of topic: String, partition: Int32) -> Int32? {
        guard let partitions = topics[topic]?.partitions, partition >= 0, Int(partition) < partitions.count else { return nil }
        let leader = partitions[Int(partition)].leader
        return leader >= 0 && brokers[leader] != nil ? leader : nil
    }

    /// Merges a Metadata response: brokers are replaced; topics in the response replace what was known about them.
    mutating func merge(_ response: MetadataResponse, requestedAll: Bool) {
        clusterId = response.clusterId
        controllerId = response.controllerId
        brokers = Dictionary(response.brokers.map { ($0.nodeId, BrokerAddress(host: $0.host, port: Int($0.port))) },
                             uniquingKeysWith: { first, _ in first })
        if requestedAll { topics = [:] }
        for topic in response.topics {
            guard let name = topic.name else { continue }
            let error = KafkaErrorCode(rawValue: topic.errorCode)
            if error == .unknownTopicOrPartition || error == .invalidTopicException || error == .topicAuthorizationFailed {
                topics[name] = Topic(name: name, id: topic.topicId, error: error, partitions: [])
                continue
            }
            let partitions = topic.partitions.sorted { $0.partitionIndex < $1.partitionIndex }.map {
                Partition(id: $0.partitionIndex, leader: $0.leaderId, leaderEpoch: $0.leaderEpoch,
                          error: KafkaErrorCode(rawValue: $0.errorCode))
            }
            topics[name] = Topic(name: name, id: topic.topicId, error: error, partitions: partitions)
        }
    }
}
