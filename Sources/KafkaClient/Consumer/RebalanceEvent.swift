/// Changes to the consumer's partitions in a group.
public enum RebalanceEvent: Sendable, Hashable {
    /// These partitions are now the consumer's (with cooperative rebalancing: only the new ones).
    case assigned([TopicPartition])
    /// These partitions were given back in a rebalance; their positions were committed first when auto-commit is on.
    case revoked([TopicPartition])
    /// These partitions were lost without a chance to commit (the coordinator expired the member).
    case lost([TopicPartition])
}
