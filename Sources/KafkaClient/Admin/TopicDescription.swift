import KafkaProtocol

/// A topic's partitions with their leader, replicas and in-sync replicas (Java's `TopicDescription`).
public struct TopicDescription: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// The topic id (zero from brokers before Metadata v10).
    public var id: KafkaUUID
    /// Whether the topic is one of Kafka's own.
    public var isInternal: Bool
    /// The partitions, by index.
    public var partitions: [PartitionInfo]
}
