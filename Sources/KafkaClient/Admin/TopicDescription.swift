import KafkaProtocol

/// A topic's partitions with their leader, replicas and in-sync replicas (Java's `TopicDescription`).
public struct TopicDescription: Sendable, Hashable {
    /// One partition of the topic (Java's `TopicPartitionInfo`).
    public struct Partition: Sendable, Hashable {
        /// The partition's index.
        public var partition: Int32
        /// The leader's broker id; nil while the partition has no leader.
        public var leader: Int32?
        /// The leader epoch (-1 when the broker does not say).
        public var leaderEpoch: Int32
        /// Broker ids of every replica, the preferred leader first.
        public var replicas: [Int32]
        /// Broker ids of the in-sync replicas.
        public var isr: [Int32]
        /// Broker ids of replicas that are offline.
        public var offlineReplicas: [Int32]
    }

    /// The topic's name.
    public var name: String
    /// The topic id (zero from brokers before Metadata v10).
    public var id: KafkaUUID
    /// Whether the topic is one of Kafka's own.
    public var isInternal: Bool
    /// The partitions, by index.
    public var partitions: [Partition]
}
