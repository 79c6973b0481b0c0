import Foundation
import NIOCore

/// A consumer group as the broker's coordinator sees it at one moment (``MockBroker/describeGroup(_:)``).
public struct GroupSnapshot: Sendable, Hashable {
    /// The classic protocol's group states, named as Kafka names them.
    public enum State: String, Sendable, Hashable {
        case empty = "Empty"
        case preparingRebalance = "PreparingRebalance"
        case completingRebalance = "CompletingRebalance"
        case stable = "Stable"
        case dead = "Dead"
    }

    public struct Member: Sendable, Hashable {
        public var memberId: String
        /// Set for static members (`group.instance.id`).
        public var groupInstanceId: String?
        public var clientId: String
        /// As Kafka reports it: `/` and the client's IP address.
        public var clientHost: String
        public var sessionTimeoutMs: Int32
        public var rebalanceTimeoutMs: Int32
        /// The protocols the member offered, in its order of preference.
        public var protocols: [String]
        /// The member's metadata for the group's protocol (empty before one is chosen).
        public var metadata: ByteBuffer
        /// What the leader assigned it in the last SyncGroup (empty before that).
        public var assignment: ByteBuffer
        /// A JoinGroup of this member waits for the rebalance to complete.
        public var isAwaitingJoin: Bool
        /// A SyncGroup of this member waits for the leader's assignment.
        public var isAwaitingSync: Bool
    }

    public var groupId: String
    public var state: State
    public var generationId: Int32
    /// `consumer` for consumers; nil for a group that only holds offsets.
    public var protocolType: String?
    /// The protocol chosen for the current generation (the assignor, for consumers).
    public var protocolName: String?
    public var leaderId: String?
    /// In the order they joined.
    public var members: [Member]
    /// Member ids given out with MEMBER_ID_REQUIRED whose JoinGroup has not come back yet.
    public var pendingMemberIds: [String]

    public func member(_ memberId: String) -> Member? {
        members.first { $0.memberId == memberId }
    }
}

/// An offset a group committed (``MockBroker/committedOffsets(group:)``).
public struct CommittedOffset: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    /// The next offset the group will read.
    public var offset: Int64
    /// -1 when the commit gave none.
    public var leaderEpoch: Int32
    /// The commit's metadata string (a null one is stored as empty, as Kafka stores it).
    public var metadata: String
    /// Broker wall-clock milliseconds of the commit.
    public var commitTimestamp: Int64
}
