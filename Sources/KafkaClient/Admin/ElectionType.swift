/// Which leader ``KafkaAdmin/electLeaders(_:partitions:)`` elects (Java's `ElectionType`).
public enum ElectionType: Int8, Sendable, Hashable {
    /// The preferred replica (the first of the partition's replicas), when it is in sync.
    case preferred = 0
    /// Any live replica when no in-sync replica is left (may lose records).
    case unclean = 1
}
