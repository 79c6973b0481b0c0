/// What a broker's replica of a partition is doing: leading it (with its view of the followers), following a
/// leader, or neither (the broker was told it is not a replica, or the partition has no leader).
enum ReplicaRole: Sendable {
    case leader(LeaderState)
    case follower(leaderId: Int32)
    case offline
}

/// The leader's view of its partition's replicas: who is in sync, and how far each follower has fetched.
struct LeaderState: Sendable {
    /// A follower as the leader sees it through its replica fetches (Kafka's `Replica` state).
    struct Follower: Sendable, Hashable {
        /// The follower's log end offset: the offset it last fetched from. -1 until its first fetch.
        var logEndOffset: Int64 = -1
        /// The last time the follower had fetched everything the leader had (`lastCaughtUpTimeMs`).
        var lastCaughtUpTime: Int64
        /// When it last fetched, and the leader's log end offset then.
        var lastFetchTime: Int64 = -1
        var leaderEndOffsetAtLastFetch: Int64 = -1
    }

    /// The leader's own broker id (-1 for a lone broker that never heard of replication).
    var localId: Int32
    /// Every replica, in assignment order.
    var replicas: [Int32]
    /// The in-sync replicas, the leader included.
    var isr: [Int32]
    var followers: [Int32: Follower]

    /// A broker on its own: it is the only replica, and its high watermark is its log end offset.
    static let soleReplica = LeaderState(localId: -1, replicas: [], isr: [], followers: [:])

    /// True when no other replica is in sync, so an append moves the high watermark at once.
    var isSoleInSyncReplica: Bool { isr.count <= 1 }
}
