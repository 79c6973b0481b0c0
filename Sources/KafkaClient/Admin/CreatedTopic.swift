import KafkaProtocol

/// What the controller made of a ``NewTopic``: its id, partition count and replication factor (-1 where an older
/// broker does not say).
public struct CreatedTopic: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// The topic id the controller assigned (zero from brokers before CreateTopics v7).
    public var id: KafkaUUID
    /// Partitions created.
    public var partitions: Int32
    /// Replicas per partition.
    public var replicationFactor: Int16
}
