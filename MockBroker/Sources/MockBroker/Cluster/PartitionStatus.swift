/// One partition of a ``MockCluster`` as the controller and the replicas have it.
public struct PartitionStatus: Sendable, Hashable, Codable {
    /// The partition index.
    public var partition: Int32
    /// -1 when the partition has no leader.
    public var leader: Int32
    /// Raised with every change of leader.
    public var leaderEpoch: Int32
    /// Every replica, in assignment order (the first is the preferred leader).
    public var replicas: [Int32]
    /// The in-sync replicas, the leader included.
    public var isr: [Int32]
    /// The leader's high watermark (-1 without a running leader).
    public var highWatermark: Int64
    /// Each running replica's log end offset, by broker id (as a string, for JSON).
    public var logEndOffsets: [String: Int64]
}
