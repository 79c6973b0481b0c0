/// Assigns each topic on its own, in contiguous ranges: the Java client's `RangeAssignor` (name `range`,
/// eager).
///
/// For every topic, the members subscribed to it are put in order (static members first by
/// `group.instance.id`, then dynamic members by member id) and its partitions in numeric order. With `P`
/// partitions and `C` subscribers, each subscriber gets `P / C` consecutive partitions and the first `P % C`
/// subscribers one more; subscriber `i` gets the `i`-th range.
///
/// For example, with two members C0 and C1 both subscribed to topics t0 and t1 of three partitions each:
///
/// ```
/// C0: [t0p0, t0p1, t1p0, t1p1]
/// C1: [t0p2, t1p2]
/// ```
///
/// Because every topic starts again with the first member, the first members get more partitions overall when
/// partition counts do not divide evenly; in exchange, members get the same partition numbers of topics with
/// the same number of partitions (useful to join co-partitioned topics).
public struct RangeAssignor: ConsumerPartitionAssignor {
    /// Creates the assignor.
    public init() {}

    /// `range`.
    public var name: String { "range" }

    /// Eager: the assignment is computed from scratch every time.
    public var rebalanceProtocol: RebalanceProtocol { .eager }

    /// Each topic split into consecutive ranges among its subscribers.
    public func assign(members: [GroupMemberSubscription], partitionCounts: [String: Int32]) -> [String: [TopicPartition]] {
        let ordered = GroupMemberSubscription.inAssignmentOrder(members)
        var assignment = [String: [TopicPartition]](emptyFor: ordered)
        for (topic, partitionCount) in AssignableTopics(members: ordered, partitionCounts: partitionCounts).topics {
            let subscribers = ordered.filter { $0.topics.contains(topic) }
            let count = Int(partitionCount)
            let perMember = count / subscribers.count
            let withExtra = count % subscribers.count
            var next = 0
            for (index, member) in subscribers.enumerated() {
                let length = perMember + (index < withExtra ? 1 : 0)
                for partition in next..<(next + length) {
                    assignment[member.memberId, default: []].append(TopicPartition(topic: topic, partition: Int32(partition)))
                }
                next += length
            }
        }
        return assignment.sortedPartitions()
    }
}
