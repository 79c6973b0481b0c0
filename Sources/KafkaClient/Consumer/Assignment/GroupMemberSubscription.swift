import KafkaProtocol
import NIOCore

/// One group member as the group leader sees it when it computes the assignment: what the member subscribes to
/// and what it says it currently owns.
///
/// The leader builds one of these per member from the JoinGroup response (the member id, its static
/// `group.instance.id` and its consumer-protocol subscription bytes), usually with
/// ``init(memberId:groupInstanceId:metadata:)``.
public struct GroupMemberSubscription: Sendable, Hashable {
    /// The member id the group coordinator gave the member.
    public var memberId: String
    /// The member's static id (`group.instance.id`, KIP-345), or `nil` for a dynamic member.
    public var groupInstanceId: String?
    /// The topics the member subscribes to.
    public var topics: Set<String>
    /// Partitions the member says it owns (consumer protocol v1+); ``generationId`` tells in which generation.
    public var ownedPartitions: [TopicPartition]
    /// The group generation in which the member owned ``ownedPartitions``; -1 when the member did not say
    /// (consumer protocol v0 and v1).
    public var generationId: Int32
    /// Assignor-specific bytes the member attached to its subscription.
    public var userData: ByteBuffer?
    /// The member's rack (`client.rack`, consumer protocol v3+), or `nil`.
    public var rackId: String?

    /// Creates a member description.
    public init(
        memberId: String,
        groupInstanceId: String? = nil,
        topics: Set<String>,
        ownedPartitions: [TopicPartition] = [],
        generationId: Int32 = -1,
        userData: ByteBuffer? = nil,
        rackId: String? = nil
    ) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.topics = topics
        self.ownedPartitions = ownedPartitions
        self.generationId = generationId
        self.userData = userData
        self.rackId = rackId
    }

    /// Creates a member description from its decoded consumer-protocol subscription. The owned partitions are
    /// flattened to one ``TopicPartition`` per partition, in the order the member listed them.
    public init(memberId: String, groupInstanceId: String?, subscription: ConsumerProtocolSubscription) {
        self.init(
            memberId: memberId,
            groupInstanceId: groupInstanceId,
            topics: Set(subscription.topics),
            ownedPartitions: subscription.ownedTopicPartitions,
            generationId: subscription.generationId,
            userData: subscription.userData,
            rackId: subscription.rackId
        )
    }

    /// Creates a member description from the subscription bytes a member sent in JoinGroup (its protocol
    /// metadata: an `int16` version followed by the consumer-protocol subscription).
    public init(memberId: String, groupInstanceId: String?, metadata: ByteBuffer) throws(KafkaWireError) {
        let subscription = try ConsumerProtocolSubscription(decodingWithVersionPrefix: metadata)
        self.init(memberId: memberId, groupInstanceId: groupInstanceId, subscription: subscription)
    }
}

extension GroupMemberSubscription {
    /// The order in which assignors consider members, the same as the Java client's (`MemberInfo`): static
    /// members (with a `group.instance.id`) come first, ordered by instance id; dynamic members follow, ordered by
    /// member id. Strings compare by UTF-16 code units, as Java's `String.compareTo` does. Two static members
    /// with the same instance id (which a coordinator does not allow) fall back to their member ids, so the
    /// order is always total.
    static func assignmentOrder(_ lhs: GroupMemberSubscription, _ rhs: GroupMemberSubscription) -> Bool {
        switch (lhs.groupInstanceId, rhs.groupInstanceId) {
        case let (left?, right?):
            if javaStringLess(left, right) { return true }
            if javaStringLess(right, left) { return false }
            return javaStringLess(lhs.memberId, rhs.memberId)
        case (.some, nil):
            return true
        case (nil, .some):
            return false
        case (nil, nil):
            return javaStringLess(lhs.memberId, rhs.memberId)
        }
    }

    /// `members` without repeated member ids (the first one wins), in ``assignmentOrder(_:_:)``.
    static func inAssignmentOrder(_ members: [GroupMemberSubscription]) -> [GroupMemberSubscription] {
        var seen = Set<String>()
        var unique: [GroupMemberSubscription] = []
        unique.reserveCapacity(members.count)
        for member in members where seen.insert(member.memberId).inserted {
            unique.append(member)
        }
        return unique.sorted(by: assignmentOrder)
    }
}

/// Java's `String.compareTo`: lexicographic over UTF-16 code units.
func javaStringLess(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf16.lexicographicallyPrecedes(rhs.utf16)
}

/// Orders partitions by topic (as Java orders strings), then by partition number.
func topicPartitionLess(_ lhs: TopicPartition, _ rhs: TopicPartition) -> Bool {
    if javaStringLess(lhs.topic, rhs.topic) { return true }
    if javaStringLess(rhs.topic, lhs.topic) { return false }
    return lhs.partition < rhs.partition
}
