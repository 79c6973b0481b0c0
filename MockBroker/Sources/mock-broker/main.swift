import ArgumentParser
import Foundation
import Logging
import MockBroker
import ServiceLifecycle

/// `mock-broker`: a Kafka-protocol broker for integration tests, as a standalone process.
/// Prints the address it listens on, serves until SIGINT or SIGTERM, then stops cleanly.
@main
struct MockBrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-broker",
        abstract: "A Kafka broker, or a cluster of them, for integration tests (real wire protocol, segmented logs, zero-copy fetch, replication)."
    )

    @Option(help: "Brokers to run in this process (ids 0..N-1, ports --port, --port+1, ...; free ports with --port 0). Above 1, a cluster with replication.")
    var brokers = 1

    @Option(name: .customLong("control-port"), help: "Serve the cluster's HTTP control endpoint on 127.0.0.1 at this port (0: a free one); runs a cluster even of one broker.")
    var controlPort: Int?

    @Option(name: .customLong("default-replication-factor"), help: "Replicas of auto-created topics and of CreateTopics asking for the default (default.replication.factor).")
    var defaultReplicationFactor: Int16 = 1

    @Option(name: .customLong("min-insync-replicas"), help: "In-sync replicas an acks=all produce needs (min.insync.replicas).")
    var minInsyncReplicas = 1

    @Option(name: .customLong("unclean-leader-election"), help: "Elect an out-of-sync replica when no in-sync one is left (unclean.leader.election.enable, true|false).")
    var uncleanLeaderElection = false

    @Option(name: .customLong("replica-lag-time-max-ms"), help: "A follower not caught up for this long leaves the ISR (replica.lag.time.max.ms).")
    var replicaLagTimeMaxMs: Int64 = 10_000

    @Option(name: .customLong("broker-session-timeout-ms"), help: "How long after a kill (or an isolation) the controller fences the broker and moves its leaderships (broker.session.timeout.ms).")
    var brokerSessionTimeoutMs: Int64 = 3000

    @Option(name: .customLong("offsets-topic-num-partitions"), help: "Partitions of __consumer_offsets in a cluster (offsets.topic.num.partitions).")
    var offsetsTopicNumPartitions: Int32 = 5

    @Option(name: .customLong("offsets-topic-replication-factor"), help: "Replicas of __consumer_offsets, at most the brokers there are (offsets.topic.replication.factor).")
    var offsetsTopicReplicationFactor: Int16 = 3

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 9092

    @Option(name: .customLong("data-dir"), help: "Directory for the partitions (default: a temporary directory, removed on exit).")
    var dataDir: String?

    @Option(name: [.customLong("partitions"), .customLong("default-partitions")],
            help: "Partitions of auto-created topics (num.partitions).")
    var partitions: Int32 = 1

    @Option(name: .customLong("auto-create-topics"), help: "Create unknown topics on Metadata requests (true|false).")
    var autoCreateTopics = true

    @Option(name: .customLong("segment-bytes"), help: "Roll segments at this size (log.segment.bytes).")
    var segmentBytes = 1 << 30

    @Option(name: .customLong("segment-ms"), help: "Roll segments older than this (log.segment.ms).")
    var segmentMs: Int64 = 7 * 24 * 3600 * 1000

    @Option(name: .customLong("retention-ms"), help: "Delete segments older than this; -1 keeps forever (log.retention.ms).")
    var retentionMs: Int64 = 7 * 24 * 3600 * 1000

    @Option(name: .customLong("retention-bytes"), help: "Delete old segments beyond this size per partition; -1: no limit (log.retention.bytes).")
    var retentionBytes: Int64 = -1

    @Option(name: .customLong("retention-check-interval-ms"), help: "How often retention runs (log.retention.check.interval.ms).")
    var retentionCheckIntervalMs: Int64 = 300_000

    @Option(name: .customLong("message-max-bytes"), help: "Largest record batch accepted (message.max.bytes).")
    var messageMaxBytes = 1_048_588

    @Option(name: .customLong("flush-messages"), help: "fsync after this many records (log.flush.interval.messages); default: leave it to the page cache.")
    var flushMessages: Int64?

    @Option(name: .customLong("advertised-host"), help: "Host clients are told to connect to (default: --host).")
    var advertisedHost: String?

    @Option(name: .customLong("node-id"), help: "Broker id (node.id).")
    var nodeId: Int32 = 1

    @Option(name: .customLong("group-initial-rebalance-delay-ms"),
            help: "How long a new group waits for more members before its first rebalance (group.initial.rebalance.delay.ms).")
    var groupInitialRebalanceDelayMs: Int64 = 0

    @Option(name: .customLong("group-min-session-timeout-ms"), help: "Smallest session.timeout.ms a member may ask for (group.min.session.timeout.ms).")
    var groupMinSessionTimeoutMs: Int64 = 6000

    @Option(name: .customLong("group-max-session-timeout-ms"), help: "Largest session.timeout.ms a member may ask for (group.max.session.timeout.ms).")
    var groupMaxSessionTimeoutMs: Int64 = 1_800_000

    @Option(name: .customLong("offsets-retention-minutes"), help: "How long an empty group's committed offsets are kept (offsets.retention.minutes).")
    var offsetsRetentionMinutes: Int64 = 10080

    @Option(name: .customLong("offsets-topic-segment-bytes"), help: "Segment size of the committed-offsets log, which is compacted once rolled (offsets.topic.segment.bytes).")
    var offsetsTopicSegmentBytes = 100 * 1024 * 1024

    @Option(name: .customLong("socket-request-max-bytes"),
            help: "Largest request frame; a larger size prefix closes the connection (socket.request.max.bytes).")
    var socketRequestMaxBytes = 104_857_600

    @Option(name: .customLong("connections-max-idle-ms"),
            help: "Close a connection without a request for this long; -1: never (connections.max.idle.ms).")
    var connectionsMaxIdleMs: Int64 = 600_000

    @Option(name: .customLong("max-connections"),
            help: "Client connections open at once; one more is closed as soon as it is accepted (max.connections).")
    var maxConnections = 1000

    @Option(name: .customLong("max-connections-per-ip"),
            help: "Client connections open at once from one IP address (max.connections.per.ip).")
    var maxConnectionsPerIp = 1000

    @Option(name: .customLong("socket-partial-frame-timeout-ms"),
            help: "Close a connection that leaves a request frame unfinished this long while the broker reads; -1: never. The mock's own setting (Kafka has none).")
    var socketPartialFrameTimeoutMs: Int64 = 30_000

    @Option(name: .customLong("max-partitions"),
            help: "Partitions the broker hosts over all topics; more are refused with INVALID_PARTITIONS. The mock's own limit.")
    var maxPartitions = 2000

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Flag(name: .customLong("statistics-on-exit"), help: "On exit, print one more stdout line: `mock-broker statistics {JSON}` (fetch bytes sent by sendfile and copied, produced bytes, requests by API).")
    var statisticsOnExit = false

    @Flag(name: .customLong("no-zero-copy"), help: "Copy fetched records through memory instead of sendfile (for comparison).")
    var noZeroCopy = false

    @Flag(name: .customLong("fetch-partial-batches"),
          help: "End a partition's fetched records with the part of a batch that fits, as Kafka does (default: whole batches only).")
    var fetchPartialBatches = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown log level \(logLevel)") }
        guard partitions > 0 else { throw ValidationError("--partitions must be at least 1") }
        guard groupMinSessionTimeoutMs > 0, groupMinSessionTimeoutMs <= groupMaxSessionTimeoutMs else {
            throw ValidationError("--group-min-session-timeout-ms must be positive and at most --group-max-session-timeout-ms")
        }
        guard socketRequestMaxBytes > 0, socketRequestMaxBytes <= Int32.max else {
            throw ValidationError("--socket-request-max-bytes must be between 1 and \(Int32.max)")
        }
        guard connectionsMaxIdleMs == -1 || connectionsMaxIdleMs > 0 else {
            throw ValidationError("--connections-max-idle-ms must be positive, or -1")
        }
        guard socketPartialFrameTimeoutMs == -1 || socketPartialFrameTimeoutMs > 0 else {
            throw ValidationError("--socket-partial-frame-timeout-ms must be positive, or -1")
        }
        guard maxConnections > 0, maxConnectionsPerIp > 0 else {
            throw ValidationError("--max-connections and --max-connections-per-ip must be at least 1")
        }
        guard maxPartitions > 0 else { throw ValidationError("--max-partitions must be at least 1") }
        guard brokers >= 1, brokers <= 64 else { throw ValidationError("--brokers must be between 1 and 64") }
        guard port == 0 || port + brokers - 1 <= 65535 else { throw ValidationError("--port + --brokers - 1 must be a port") }
        guard defaultReplicationFactor >= 1, Int(defaultReplicationFactor) <= brokers else {
            throw ValidationError("--default-replication-factor must be between 1 and --brokers")
        }
        guard minInsyncReplicas >= 1 else { throw ValidationError("--min-insync-replicas must be at least 1") }
        guard replicaLagTimeMaxMs > 0, brokerSessionTimeoutMs > 0 else {
            throw ValidationError("--replica-lag-time-max-ms and --broker-session-timeout-ms must be positive")
        }
        guard offsetsTopicNumPartitions >= 1, offsetsTopicReplicationFactor >= 1 else {
            throw ValidationError("--offsets-topic-num-partitions and --offsets-topic-replication-factor must be at least 1")
        }
        if let controlPort, controlPort < 0 || controlPort > 65535 { throw ValidationError("--control-port must be a port") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = MockBrokerConfiguration(host: host, port: port, dataDirectory: dataDir)
        configuration.advertisedHost = advertisedHost
        configuration.nodeId = nodeId
        configuration.defaultPartitions = partitions
        configuration.autoCreateTopics = autoCreateTopics
        configuration.log.segmentBytes = segmentBytes
        configuration.log.segmentMs = segmentMs
        configuration.log.retentionMs = retentionMs
        configuration.log.retentionBytes = retentionBytes
        configuration.log.maxMessageBytes = messageMaxBytes
        if let flushMessages { configuration.log.flushMessages = flushMessages }
        configuration.retentionCheckInterval = .milliseconds(retentionCheckIntervalMs)
        configuration.zeroCopyFetch = !noZeroCopy
        configuration.fetchPartialBatches = fetchPartialBatches
        configuration.groupInitialRebalanceDelay = .milliseconds(groupInitialRebalanceDelayMs)
        configuration.groupMinSessionTimeout = .milliseconds(groupMinSessionTimeoutMs)
        configuration.groupMaxSessionTimeout = .milliseconds(groupMaxSessionTimeoutMs)
        configuration.offsetsRetention = .minutes(offsetsRetentionMinutes)
        configuration.offsetsTopicSegmentBytes = offsetsTopicSegmentBytes
        configuration.socketRequestMaxBytes = socketRequestMaxBytes
        configuration.connectionsMaxIdle = connectionsMaxIdleMs == -1 ? nil : .milliseconds(connectionsMaxIdleMs)
        configuration.socketPartialFrameTimeout = socketPartialFrameTimeoutMs == -1 ? nil : .milliseconds(socketPartialFrameTimeoutMs)
        configuration.maxConnections = maxConnections
        configuration.maxConnectionsPerIp = maxConnectionsPerIp
        configuration.maxPartitions = maxPartitions
        configuration.replication.defaultReplicationFactor = defaultReplicationFactor
        configuration.replication.minInsyncReplicas = minInsyncReplicas
        configuration.replication.uncleanLeaderElection = uncleanLeaderElection
        configuration.replication.replicaLagTimeMax = .milliseconds(replicaLagTimeMaxMs)
        configuration.replication.brokerSessionTimeout = .milliseconds(brokerSessionTimeoutMs)
        configuration.replication.offsetsTopicPartitions = offsetsTopicNumPartitions
        configuration.replication.offsetsTopicReplicationFactor = offsetsTopicReplicationFactor

        let logger = Logger(label: "mock-broker")
        if brokers > 1 || controlPort != nil {
            try await runCluster(configuration, logger: logger)
            return
        }
        let broker = MockBroker(configuration: configuration, logger: logger)
        try await broker.start()
        // Scripts wait for this line to learn the address.
        print("mock-broker listening on \(broker.host):\(broker.port)")
        fflush(nil)
        let services = ServiceGroup(services: [broker], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await services.run()
        if statisticsOnExit {
            print("mock-broker statistics \(broker.statistics.json)")
            fflush(nil)
        }
    }

    /// `--brokers N` (or `--control-port`): a cluster in this process.
    private func runCluster(_ configuration: MockBrokerConfiguration, logger: Logger) async throws {
        let cluster = try await MockCluster.start(brokers: brokers, configuration: configuration, logger: logger)
        var control: ControlServer?
        do {
            if let controlPort { control = try await ControlServer.start(cluster: cluster, port: controlPort, logger: logger) }
        } catch {
            try? await cluster.stop()
            throw error
        }
        // Scripts wait for the first line to learn broker 0's address; each other broker has a line of its own.
        for id in cluster.brokerIds {
            guard let broker = cluster.broker(id) else { continue }
            if id == 0 {
                print("mock-broker listening on \(broker.host):\(broker.port)")
            } else {
                print("mock-broker broker \(id) listening on \(broker.host):\(broker.port)")
            }
        }
        if let control { print("mock-broker control listening on http://127.0.0.1:\(control.port)") }
        fflush(nil)
        let service = ClusterService(cluster: cluster, control: control)
        let services = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await services.run()
    }
}

/// Runs a cluster (and its control endpoint) until graceful shutdown.
struct ClusterService: Service {
    let cluster: MockCluster
    let control: ControlServer?

    func run() async throws {
        try? await gracefulShutdown()
        try? await control?.stop()
        try await cluster.stop()
    }
}
