import KafkaProtocol

/// A partition as the cluster's metadata describes it (Java's `PartitionInfo`).
public struct PartitionInfo: Sendable, Hashable, CustomStringConvertible {
    /// The topic.
    public var topic: String
    /// The partition's index in its topic.
    public var partition: Int32
    /// The broker that leads the partition; nil while it has none.
    public var leader: Int32?
    /// The leader epoch; -1 when the broker does not say.
    public var leaderEpoch: Int32
    /// Every broker holding a replica, the preferred leader first.
    public var replicas: [Int32]
    /// The replicas in sync with the leader.
    public var inSyncReplicas: [Int32]
    /// Replicas on brokers that are down or whose log directory failed.
    public var offlineReplicas: [Int32]

    /// Makes a partition description.
    public init(topic: String, partition: Int32, leader: Int32?, leaderEpoch: Int32 = -1, replicas: [Int32] = [],
                inSyncReplicas: [Int32] = [], offlineReplicas: [Int32] = []) {
        self.topic = topic
        self.partition = partition
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.replicas = replicas
        self.inSyncReplicas = inSyncReplicas
        self.offlineReplicas = offlineReplicas
    }

    /// A partition of `topic` as a Metadata response describes it.
    init(topic: String, metadata partition: MetadataResponse.MetadataResponsePartition) {
        self.init(topic: topic, partition: partition.partitionIndex, leader: partition.leaderId >= 0 ? partition.leaderId : nil,
                  leaderEpoch: partition.leaderEpoch, replicas: partition.replicaNodes, inSyncReplicas: partition.isrNodes,
                  offlineReplicas: partition.offlineReplicas)
    }

    /// The partition as a ``TopicPartition``.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }

    /// The partition with its leader, replicas and in-sync replicas, in one line.
    public var description: String {
        "\(topic)-\(partition) (leader \(leader.map(String.init) ?? "none"), replicas \(replicas), isr \(inSyncReplicas))"
    }
}
