import NIOCore

/// The cluster-wide replication settings, with Kafka's names (defaults as the mock's ``MockBrokerConfiguration``
/// gives them).
public struct ReplicationSettings: Sendable, Hashable {
    /// `default.replication.factor`: for auto-created topics and CreateTopics asking for the default (-1).
    public var defaultReplicationFactor: Int16 = 1
    /// `min.insync.replicas` (broker default; topics may override it): acks=all produce needs this many in-sync
    /// replicas.
    public var minInsyncReplicas = 1
    /// `unclean.leader.election.enable`: when no in-sync replica is left, elect an out-of-sync one (losing what
    /// only the old leader had). Default false, as Kafka's.
    public var uncleanLeaderElection = false
    /// `replica.lag.time.max.ms`: a follower that has not caught up with the leader's log end for this long leaves
    /// the ISR. Kafka's default is 30 s; the mock's 10 s.
    public var replicaLagTimeMax: TimeAmount = .seconds(10)
    /// `broker.session.timeout.ms`: how long after a broker was killed (or cut off) the controller fences it and
    /// moves its leaderships. Kafka's default is 9 s; the mock's 3 s.
    public var brokerSessionTimeout: TimeAmount = .seconds(3)
    /// `replica.fetch.wait.max.ms`: how long a follower's fetch waits at the leader for new data. Default 500 ms,
    /// as Kafka's.
    public var replicaFetchWaitMax: TimeAmount = .milliseconds(500)
    /// `offsets.topic.num.partitions`: partitions of `__consumer_offsets` (in a cluster). Kafka's default is 50;
    /// the mock's 5.
    public var offsetsTopicPartitions: Int32 = 5
    /// `offsets.topic.replication.factor`: its replication factor, capped by the brokers there are. Default 3.
    public var offsetsTopicReplicationFactor: Int16 = 3

    /// Kafka's settings with the mock's defaults.
    public init() {}
}
