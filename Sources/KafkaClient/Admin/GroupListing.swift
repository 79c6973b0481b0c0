/// A consumer group as ``KafkaAdmin/listGroups()`` lists it (Java's `GroupListing`).
public struct GroupListing: Sendable, Hashable {
    /// The group's id.
    public var groupId: String
    /// `consumer` for consumer groups, empty for groups that only hold committed offsets.
    public var protocolType: String
    /// `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance` or `Dead` (empty from brokers before
    /// ListGroups v4).
    public var state: String
    /// `classic` or `consumer` (empty from brokers before ListGroups v5).
    public var type: String
    /// The broker coordinating the group.
    public var coordinator: Int32
}
