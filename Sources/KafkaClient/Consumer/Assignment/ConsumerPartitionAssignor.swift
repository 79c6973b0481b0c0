import NIOCore

/// Decides which member consumes which partitions. Pluggable: users may supply their own.
///
/// Every member advertises the assignors it supports, by ``name``, when it joins the group; the coordinator picks
/// one that all members support and the group leader runs that assignor's ``assign(members:partitionCounts:)``
/// for the whole group. The built-in assignors are ``CooperativeStickyAssignor`` (the default),
/// ``RangeAssignor`` and ``RoundRobinAssignor``; their names and results match the Java client's, so a group may
/// mix this client with Java, librdkafka or kafka-python members.
///
/// An implementation must be deterministic (the same input gives the same output) and, for a
/// ``RebalanceProtocol/cooperative`` assignor, must never give a member a partition that another member still
/// owns.
public protocol ConsumerPartitionAssignor: Sendable {
    /// The protocol name members advertise in JoinGroup (Java's and librdkafka's names for the built-ins).
    var name: String { get }

    /// Whether members give up all of their partitions before a rebalance (eager) or only the ones that move
    /// (cooperative).
    var rebalanceProtocol: RebalanceProtocol { get }

    /// Extra bytes a member puts in its subscription (nil by default).
    ///
    /// - Parameters:
    ///   - topics: The topics the member subscribes to.
    ///   - ownedPartitions: The partitions the member owns now.
    ///   - generationId: The generation the member owns them in (-1 before its first assignment).
    func subscriptionUserData(topics: Set<String>, ownedPartitions: [TopicPartition], generationId: Int32) -> ByteBuffer?

    /// The assignment: member id -> partitions. `partitionCounts` has every subscribed topic that exists (missing topics are skipped).
    ///
    /// - Parameters:
    ///   - members: Every member of the group, in any order.
    ///   - partitionCounts: The number of partitions of each subscribed topic that exists. A subscribed topic
    ///     missing from it is not assigned.
    /// - Returns: One entry per member (an empty list for a member that gets nothing), each sorted by topic,
    ///   then partition.
    func assign(members: [GroupMemberSubscription], partitionCounts: [String: Int32]) -> [String: [TopicPartition]]
}

extension ConsumerPartitionAssignor {
    /// No extra bytes.
    public func subscriptionUserData(topics: Set<String>, ownedPartitions: [TopicPartition], generationId: Int32) -> ByteBuffer? {
        nil
    }
}

/// The partitions of the topics that can be assigned: those some member subscribes to and that exist in
/// `partitionCounts`, topics in Java's string order.
struct AssignableTopics {
    /// Subscribed topics that exist, in Java's string order, with their partition counts (negative counts read as 0).
    let topics: [(name: String, partitionCount: Int32)]

    init(members: [GroupMemberSubscription], partitionCounts: [String: Int32]) {
        var names = Set<String>()
        for member in members {
            for topic in member.topics where partitionCounts[topic] != nil {
                names.insert(topic)
            }
        }
        self.topics = names.sorted(by: javaStringLess).map { ($0, max(0, partitionCounts[$0] ?? 0)) }
    }
}

extension Dictionary where Key == String, Value == [TopicPartition] {
    /// An empty entry for every member, so that members that get nothing still appear.
    init(emptyFor members: [GroupMemberSubscription]) {
        self.init(minimumCapacity: members.count)
        for member in members {
            self[member.memberId] = []
        }
    }

    /// Every list sorted by topic, then partition.
    func sortedPartitions() -> Self {
        mapValues { $0.sorted(by: topicPartitionLess) }
    }
}
