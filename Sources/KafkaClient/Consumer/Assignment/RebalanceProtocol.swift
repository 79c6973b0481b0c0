/// How a consumer group hands partitions over during a rebalance.
///
/// - ``eager``: before joining a rebalance every member stops consuming and gives up all of its partitions; the
///   new assignment is then applied from scratch. Simple, but the whole group pauses on every rebalance.
/// - ``cooperative``: the incremental protocol of KIP-429. Members keep consuming the partitions they own while the
///   group rebalances and only give up the ones that move. A partition that changes owner is first revoked by its
///   old owner and handed to its new owner in a follow-up rebalance, so it is never consumed by two members at once.
///
/// Every member of a group must use the same protocol; the group uses the one its common assignor declares.
public enum RebalanceProtocol: Sendable, Hashable {
    /// Every member gives up all of its partitions before a rebalance.
    case eager
    /// Members keep the partitions that do not move (KIP-429).
    case cooperative
}
