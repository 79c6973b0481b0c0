/// Deals all partitions out one at a time, in a circle: the Java client's `RoundRobinAssignor` (name
/// `roundrobin`, eager).
///
/// All partitions of all subscribed topics are laid out in order (by topic, then partition) and the members in
/// order (static members first by `group.instance.id`, then dynamic members by member id). Each partition goes
/// to the next member in the circle, skipping members that do not subscribe to its topic. When all members have
/// the same subscription, their partition counts differ by at most one.
///
/// For example, with two members C0 and C1 both subscribed to topics t0 and t1 of three partitions each:
///
/// ```
/// C0: [t0p0, t0p2, t1p1]
/// C1: [t0p1, t1p0, t1p2]
/// ```
///
/// When subscriptions differ, the skipping can leave the group unbalanced: with C0 subscribed to t0, C1 to t0
/// and t1, C2 to t0, t1 and t2, and topics t0, t1, t2 of 1, 2 and 3 partitions, C0 gets `[t0p0]`, C1 `[t1p0]`
/// and C2 `[t1p1, t2p0, t2p1, t2p2]`.
public struct RoundRobinAssignor: ConsumerPartitionAssignor {
    /// Creates the assignor.
    public init() {}

    /// `roundrobin`.
    public var name: String { "roundrobin" }

    /// Eager: the assignment is computed from scratch every time.
    public var rebalanceProtocol: RebalanceProtocol { .eager }

    /// All partitions dealt out in a circle, skipping members not subscribed to a partition's topic.
    public func assign(members: [GroupMemberSubscription], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        let ordered = GroupMemberSubscription.inAssignmentOrder(members)
        var assignment = [String: [TopicPartition]](emptyFor: ordered)
        guard !ordered.isEmpty else { return assignment }
        var cursor = 0
        for (topic, partitionCount) in AssignableTopics(members: ordered, partitionCounts: partitionCounts).topics {
            for partition in 0..<partitionCount {
                // Some member subscribes to `topic` (that is how it got here), so this stops within one lap.
                var skipped = 0
                while !ordered[cursor].topics.contains(topic), skipped < ordered.count {
                    cursor = (cursor + 1) % ordered.count
                    skipped += 1
                }
                assignment[ordered[cursor].memberId, default: []].append(TopicPartition(topic: topic, partition: partition))
                cursor = (cursor + 1) % ordered.count
            }
        }
        return assignment.sortedPartitions()
    }
}
