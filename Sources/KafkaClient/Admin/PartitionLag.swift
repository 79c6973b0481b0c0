/// How far a group is behind on one partition (a row of `kafka-consumer-groups --describe`).
public struct PartitionLag: Sendable, Hashable {
    /// The topic.
    public var topic: String
    /// The partition.
    public var partition: Int32
    /// The group's committed offset (the next offset it will read); nil when it has committed none.
    public var committed: Int64?
    /// The partition's log end offset (high watermark).
    public var endOffset: Int64
    /// `endOffset - committed`; nil without a committed offset.
    public var lag: Int64? { committed.map { max(endOffset - $0, 0) } }
    /// The member the partition is assigned to, if any.
    public var memberId: String?
    /// That member's `client.id`.
    public var clientId: String?

    /// The topic and partition.
    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}
