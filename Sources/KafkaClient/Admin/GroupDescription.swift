/// A consumer group: its state, protocol and members with their assignments (Java's
/// `ConsumerGroupDescription`).
public struct GroupDescription: Sendable, Hashable {
    /// A member of the group (Java's `MemberDescription`).
    public struct Member: Sendable, Hashable {
        /// The id the coordinator gave the member.
        public var memberId: String
        /// The static member id (`group.instance.id`), if any.
        public var groupInstanceId: String?
        /// The member's `client.id`.
        public var clientId: String
        /// The member's address as the coordinator saw it (`/127.0.0.1`).
        public var host: String
        /// The partitions assigned to the member (for consumer-protocol groups in a stable generation).
        public var assignment: [TopicPartition]
    }

    /// The group's id.
    public var groupId: String
    /// `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance` or `Dead` (`Dead` for a group that does not
    /// exist).
    public var state: String
    /// `consumer` for consumer groups, empty for groups that only hold committed offsets.
    public var protocolType: String
    /// The assignor the group chose (`range`, `cooperative-sticky`); empty until the group is stable.
    public var assignor: String
    /// The members.
    public var members: [Member]
    /// The broker coordinating the group.
    public var coordinator: Int32
}
