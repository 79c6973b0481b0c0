import KafkaProtocol

/// What the client knows about the cluster: brokers, and each topic's partitions and their leaders.
public struct ClusterMetadata: Sendable {
    /// One partition of a topic, as the last Metadata response described it.
    public struct Partition: Sendable, Hashable {
        /// The partition's index in its topic.
        public var id: Int32
        /// The broker id of the leader; -1 while the partition has no leader.
        public var leader: Int32
        /// The leader's epoch, which rises with every leader change (-1 when the broker did not say).
        public var leaderEpoch: Int32
        /// The partition's error in the Metadata response (`.none` when it is fine).
        public var error: KafkaErrorCode
    }

    /// A topic, as the last Metadata response described it.
    public struct Topic: Sendable {
        /// The topic's name.
        public var name: String
        /// The topic's id (all zeros from brokers older than Kafka 2.8).
        public var id: KafkaUUID
        /// The topic's error in the Metadata response (`.unknownTopicOrPartition` for a topic that does not exist).
        public var error: KafkaErrorCode
        /// The partitions, in index order.
        public var partitions: [Partition]
    }

    /// The cluster's id, when the broker reports one.
    public var clusterId: String?
    /// The broker id of the controller; -1 when unknown.
    public var controllerId: Int32
    /// The brokers, by broker id.
    public var brokers: [Int32: BrokerAddress]
    /// The topics asked about, by name.
    public var topics: [String: Topic]

    /// Empty metadata: no brokers and no topics.
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

    /// The leader epoch of a partition, when known.
    public func leaderEpoch(of topic: String, partition: Int32) -> Int32? {
        guard let partitions = topics[topic]?.partitions, partition >= 0, Int(partition) < partitions.count else { return nil }
        return partitions[Int(partition)].leaderEpoch
    }

    /// Records a partition's new leader learned from a response (KIP-951), when its epoch is newer.
    /// Returns whether anything changed.
    @discardableResult
    mutating func updateLeader(topic: String, partition: Int32, leader: Int32, epoch: Int32, address: BrokerAddress?) -> Bool {
        guard var known = topics[topic], partition >= 0, Int(partition) < known.partitions.count else { return false }
        guard epoch > known.partitions[Int(partition)].leaderEpoch, leader >= 0 else { return false }
        if let address { brokers[leader] = address }
        guard brokers[leader] != nil else { return false }
        known.partitions[Int(partition)].leader = leader
        known.partitions[Int(partition)].leaderEpoch = epoch
        topics[topic] = known
        return true
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
            let known = topics[name]?.partitions ?? []
            let partitions = topic.partitions.sorted { $0.partitionIndex < $1.partitionIndex }.map { answer -> Partition in
                let fresh = Partition(id: answer.partitionIndex, leader: answer.leaderId, leaderEpoch: answer.leaderEpoch,
                                      error: KafkaErrorCode(rawValue: answer.errorCode))
                // A broker with older metadata must not move a partition back to an earlier leader epoch.
                if let current = known.first(where: { $0.id == fresh.id }), current.leaderEpoch > fresh.leaderEpoch, fresh.leaderEpoch >= 0 {
                    return current
                }
                return fresh
            }
            topics[name] = Topic(name: name, id: topic.topicId, error: error, partitions: partitions)
        }
    }
}
