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

    public init() {}

    /// A configuration listening on `host`:`port` and storing in `dataDirectory`.
    public init(host: String = "127.0.0.1", port: Int = 0, dataDirectory: String? = nil) {
        self.host = host
        self.port = port
        self.dataDirectory = dataDirectory
    }
}
