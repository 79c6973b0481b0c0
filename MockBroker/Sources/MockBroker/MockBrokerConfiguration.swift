import Metrics
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
    /// Where the broker's metrics go (requests by API, bytes in and out, bytes sent by sendfile, connections,
    /// groups and members); nil: the factory bootstrapped in `MetricsSystem`.
    public var metricsFactory: (any MetricsFactory)?
    /// The cluster id reported in Metadata.
    public var clusterId = "mock-broker-cluster"
    /// Replication settings (`default.replication.factor`, `min.insync.replicas`, `replica.lag.time.max.ms`, ...).
    /// A lone broker only uses `min.insync.replicas` (above 1, acks=all writes are refused); in a ``MockCluster``
    /// the cluster's settings apply to every broker.
    public var replication = ReplicationSettings()
    /// `num.partitions`: partitions of auto-created topics and of CreateTopics requests that ask for the default.
    public var defaultPartitions: Int32 = 1
    /// `auto.create.topics.enable`: Metadata requests for unknown topics create them.
    public var autoCreateTopics = true
    /// The log settings topics get unless they override them (`log.segment.bytes`, `log.retention.ms`, ...).
    public var log = LogConfig()
    /// `log.retention.check.interval.ms`: how often retention runs. Default 5 minutes.
    public var retentionCheckInterval: TimeAmount = .minutes(5)
    /// `socket.request.max.bytes`: a request frame whose size prefix is larger closes its connection (before any
    /// of it is buffered). Default 104857600 (100 MiB), as Kafka's.
    public var socketRequestMaxBytes = 104_857_600

    // MARK: Connections

    /// `connections.max.idle.ms`: a connection that has no request queued or being handled, and no request frame
    /// arriving, for this long is closed. Nil (`-1` on the command line) never closes idle connections. Default
    /// 600000 ms (10 minutes), as Kafka's.
    public var connectionsMaxIdle: TimeAmount? = .milliseconds(600_000)
    /// `max.connections`: client connections open at once; one more is closed as soon as it is accepted (Kafka
    /// instead leaves it waiting in the accept queue until a slot frees up). Kafka's default is no limit
    /// (`Int32.max`); a test broker defaults to 1000, so that a runaway test runs out of connections before the
    /// machine runs out of file descriptors.
    public var maxConnections = 1000
    /// `max.connections.per.ip`: client connections open at once from one IP address; one more is closed as soon
    /// as it is accepted, as Kafka closes it. Kafka's default is no limit; the mock's is 1000, the same as
    /// ``maxConnections`` (every test client is on 127.0.0.1).
    public var maxConnectionsPerIp = 1000
    /// How long a connection may take to finish a request frame it has started sending, while the broker is
    /// reading; longer closes the connection (a slowloris guard). Nil (`-1` on the command line) waits forever.
    /// This setting is the mock's own (Kafka has none: `connections.max.idle.ms` is its only bound); its
    /// command-line flag is `--socket-partial-frame-timeout-ms`. Default 30 s.
    public var socketPartialFrameTimeout: TimeAmount? = .seconds(30)
    /// Partitions the broker hosts, over all topics: CreateTopics, CreatePartitions and auto-creation beyond it
    /// get INVALID_PARTITIONS. Each partition holds three open files and two memory mappings, so without a bound
    /// one request could exhaust the process's file descriptors. The mock's own setting (flag
    /// `--max-partitions`); Kafka has no such limit. Default 2000.
    public var maxPartitions = 2000

    /// `max.incremental.fetch.session.cache.slots`. Default 1000.
    public var maxFetchSessions = 1000
    /// Serve fetched records from the segment files with `sendfile` (true) or by reading them into memory first
    /// (false, for comparison).
    public var zeroCopyFetch = true
    /// Fill each partition's part of a fetch up to its byte limit as Kafka does, ending with the first part of a batch that
    /// does not fit, which clients discard (true); or send whole batches only (false), as Redpanda did until 2025, which
    /// spares the consumer copying bytes it throws away (with 1 MB batches and the default 1 MiB
    /// `max.partition.fetch.bytes`, a twentieth of what it reads). Both are valid answers; turn this on to test a client
    /// against Kafka's. The mock's own setting (flag `--fetch-partial-batches`). Default false.
    public var fetchPartialBatches = false
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
