import NIOCore

/// How a ``MockBroker`` listens, stores and behaves. Defaults follow Kafka's broker defaults where Kafka has the
/// setting (names in the comments).
public struct MockBrokerConfiguration: Sendable {
    /// The address to listen on. Tests use the loopback interface.
    public var host = "127.0.0.1"
    /// The port to listen on; 0 picks a free one (read it back from ``MockBroker/port``).
    public var port = 0
    /// The host clients are told to connect to (Metadata); defaults to ``host``.
    public var advertisedHost: String?
    /// Where partitions are stored. Nil: a fresh temporary directory, removed when the broker stops.
    public var dataDirectory: String?
    /// `node.id`.
    public var nodeId: Int32 = 1
    /// The cluster id reported in Metadata.
    public var clusterId = "mock-broker-cluster"
    /// `num.partitions`: partitions of auto-created topics and of CreateTopics requests that ask for the default.
    public var defaultPartitions: Int32 = 1
    /// `auto.create.topics.enable`: Metadata requests for unknown topics create them.
    public var autoCreateTopics = true
    /// The log settings topics get unless they override them (`log.segment.bytes`, `log.retention.ms`, ...).
    public var log = LogConfig()
    /// `log.retention.check.interval.ms`: how often retention runs. Default 5 minutes.
    public var retentionCheckInterval: TimeAmount = .minutes(5)
    /// `socket.request.max.bytes`: a larger request frame closes its connection. Default 100 MiB.
    public var socketRequestMaxBytes = 104_857_600
    /// `max.incremental.fetch.session.cache.slots`. Default 1000.
    public var maxFetchSessions = 1000
    /// Serve fetched records from the segment files with `sendfile` (true) or by reading them into memory first
    /// (false, for comparison).
    public var zeroCopyFetch = true
    /// Event loop threads; default: one per core.
    public var eventLoopThreads = System.coreCount

    // MARK: Groups and offsets

    /// `group.initial.rebalance.delay.ms`: how long the first rebalance of a group moving from Empty waits for
    /// more members to join (extended by each member that does, up to the rebalance timeout), so that members
    /// starting together land in one generation. Kafka's default is 3000 ms; the mock's is 0 so that tests do
    /// not wait.
    public var groupInitialRebalanceDelay: TimeAmount = .zero
    /// `group.min.session.timeout.ms`: JoinGroup requests with a shorter session timeout get
    /// INVALID_SESSION_TIMEOUT. Default 6 s, as Kafka's; tests of session expiry lower it.
    public var groupMinSessionTimeout: TimeAmount = .seconds(6)
    /// `group.max.session.timeout.ms`. Default 30 minutes, as Kafka's.
    public var groupMaxSessionTimeout: TimeAmount = .minutes(30)
    /// `group.max.size`: members a group may have (GROUP_MAX_SIZE_REACHED beyond). Default: no limit
    /// (`Int32.max`), as Kafka's.
    public var groupMaxSize = Int(Int32.max)
    /// `offsets.retention.minutes`: how long committed offsets are kept once their group is empty (or, for a
    /// group that only stores offsets, after their commit). Default 7 days, as Kafka's.
    public var offsetsRetention: TimeAmount = .hours(7 * 24)
    /// `offsets.retention.check.interval.ms`: how often expired offsets are removed
    /// (``MockBroker/expireOffsets(now:)`` runs the check at once). Default 10 minutes, as Kafka's.
    public var offsetsRetentionCheckInterval: TimeAmount = .minutes(10)
    /// `offsets.topic.segment.bytes`: segment size of the committed-offsets log. Once it has rolled and at
    /// least half its records are superseded, the log is compacted to the live commits. Default 100 MiB, as Kafka's.
    public var offsetsTopicSegmentBytes = 100 * 1024 * 1024
    /// `offset.metadata.max.bytes`: longer commit metadata gets OFFSET_METADATA_TOO_LARGE. Default 4096.
    public var offsetMetadataMaxBytes = 4096

    public init() {}

    /// A configuration listening on `host`:`port` and storing in `dataDirectory`.
    public init(host: String = "127.0.0.1", port: Int = 0, dataDirectory: String? = nil) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
    }
}
