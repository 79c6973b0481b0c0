import Foundation
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// A single Kafka broker for integration tests, speaking the real wire protocol: real clients (the Java client,
/// librdkafka/kcat, kafka-python, this package's client) connect to it as to Kafka.
///
/// Partitions are stored as segmented log files with sparse offset and time indexes; fetches are served from
/// the files with `sendfile`. The broker is also the group coordinator (Kafka's classic JoinGroup/SyncGroup
/// protocol; see ``describeGroup(_:)``), and keeps committed offsets in its data directory.
///
/// ```swift
/// let broker = try await MockBroker.start()                 // port 0, temporary data directory
/// try broker.createTopic("orders", partitions: 3)
/// // ... point a client at broker.bootstrapServers ...
/// try await broker.stop()                                    // removes the temporary directory
/// ```
///
/// As a long-running component it is a `Service`: `run()` serves until graceful shutdown.
public final class MockBroker: Service, Sendable {
    public let configuration: MockBrokerConfiguration
    private let logger: Logger
    private let lifecycle = NIOLockedValueBox<Lifecycle>(.idle)

    private enum Lifecycle {
        case idle
        case running(Running)
        /// With what the broker had done when it stopped.
        case stopped(BrokerStatistics)
    }

    /// `@unchecked Sendable`: every field is a constant; `RepeatedTask` (not marked Sendable) is only cancelled,
    /// which NIO allows from any thread.
    private struct Running: @unchecked Sendable {
        let state: BrokerState
        let group: MultiThreadedEventLoopGroup
        let server: any Channel
        let connections: ConnectionSet
        let retention: RepeatedTask
        let isrCheck: RepeatedTask?
        let dataDirectory: String
        let removeDataDirectory: Bool
        let recoveries: [LogRecovery]
    }

    public enum LifecycleError: Error, CustomStringConvertible {
        case notRunning
        case alreadyStarted

        public var description: String {
            switch self {
            case .notRunning: "the mock broker is not running"
            case .alreadyStarted: "the mock broker was already started"
            }
        }
    }

    /// The cluster this broker belongs to; nil for a lone broker, which makes a cluster of one when it starts.
    private let sharedCluster: ClusterMetadata?

    public init(configuration: MockBrokerConfiguration = MockBrokerConfiguration(), logger: Logger = Logger(label: "mock-broker")) {
        self.configuration = configuration
        self.logger = logger
        sharedCluster = nil
    }

    /// A broker of a ``MockCluster``.
    init(configuration: MockBrokerConfiguration, cluster: ClusterMetadata, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        sharedCluster = cluster
    }

    /// Creates a broker and starts it.
    public static func start(
        configuration: MockBrokerConfiguration = MockBrokerConfiguration(),
        logger: Logger = Logger(label: "mock-broker")
    ) async throws -> MockBroker {
        let broker = MockBroker(configuration: configuration, logger: logger)
        try await broker.start()
        return broker
    }

    // MARK: - Lifecycle

    /// Opens (recovering) the data directory and starts listening.
    public func start() async throws {
        guard lifecycle.withLockedValue({ if case .idle = $0 { return true } else { return false } }) else {
            throw LifecycleError.alreadyStarted
        }
        let (dataDirectory, removeDataDirectory) = try prepareDataDirectory()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.eventLoopThreads))
        let state: BrokerState
        let recoveries: [LogRecovery]
        do {
            // The group coordinator keeps every group on one of the broker's event loops.
            let cluster = sharedCluster ?? ClusterMetadata(settings: configuration.replication, isLoneBroker: true)
            state = try BrokerState(configuration: configuration, dataDirectory: dataDirectory, cluster: cluster,
                                    coordinatorLoop: group.next(), replicationGroup: group, logger: logger)
            do {
                let loaded = try state.topics.load(now: RequestContext.nowMilliseconds())
                for skipped in loaded.skipped { logger.error("not opened: \(skipped)") }
                recoveries = state.groups.offsetsLogRecoveries + loaded.recoveries
                for recovery in recoveries {
                    if recovery.isTornTail {
                        logger.warning("recovered a torn write: \(recovery)")
                    } else {
                        logger.error("recovered from corruption: \(recovery)")
                    }
                }
            } catch {
                await state.groups.shutdown()
                throw error
            }
        } catch {
            try? await group.shutdownGracefully()
            if removeDataDirectory { try? FileManager.default.removeItem(atPath: dataDirectory) }
            throw error
        }
        let router = RequestRouter(state: state)
        let connections = ConnectionSet(maxConnections: configuration.maxConnections,
                                        maxConnectionsPerAddress: configuration.maxConnectionsPerIp)
        let maxFrameSize = configuration.socketRequestMaxBytes
        let idleTimeout = configuration.connectionsMaxIdle
        let partialFrameTimeout = configuration.socketPartialFrameTimeout
        let logger = self.logger
        let server: any Channel
        do {
            server = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { channel in
                    // A broker cut off from the cluster (MockCluster.isolate) accepts no one.
                    if state.cluster.broker(state.nodeId)?.isolated == true {
                        return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
                    }
                    do {
                        try connections.admit(channel)
                    } catch {
                        // As Kafka logs it. The failed future makes NIO close the socket.
                        logger.info("refusing connection from \(channel.remoteAddress.map { "\($0)" } ?? "?"): \(error)")
                        state.counters.connectionRefused()
                        return channel.eventLoop.makeFailedFuture(error)
                    }
                    return channel.eventLoop.makeCompletedFuture {
                        // Produce requests run to megabytes: a busy connection's reads grow up to 512 KiB (NIO's
                        // default stops at 64 KiB), an idle or trickling one keeps small buffers, and the rest of a
                        // request spread over reads is read straight into its buffer.
                        let slot = FrameReceiveSlot.installed(on: channel, maximumRead: 512 * 1024)
                        try channel.pipeline.syncOperations.addHandlers(
                            BrokerFrameHandler(maxFrameSize: maxFrameSize, receiveSlot: slot),
                            BrokerConnectionHandler(router: router, counters: state.counters, idleTimeout: idleTimeout,
                                                    partialFrameTimeout: partialFrameTimeout, logger: logger)
                        )
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            await state.groups.shutdown()
            state.topics.close()
            try? await group.shutdownGracefully()
            throw error
        }
        let port = server.localAddress?.port ?? configuration.port
        state.setBoundPort(port)
        state.cluster.upsertBroker(.init(id: state.nodeId, host: state.advertisedHost, port: Int32(port), running: true,
                                         registered: true))
        state.cluster.members.withLockedValue { $0[state.nodeId] = state }
        state.cluster.join(state, now: RequestContext.nowMilliseconds())
        state.groups.start()
        let interval = configuration.retentionCheckInterval
        let retention = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let deleted = state.topics.enforceRetention(now: RequestContext.nowMilliseconds())
            if deleted > 0 { logger.info("retention deleted \(deleted) segment(s)") }
        }
        // A lone broker has no followers to drop from an ISR.
        let isrCheck: RepeatedTask? = state.cluster.isLoneBroker ? nil : {
            let lag = state.cluster.settings.replicaLagTimeMax.nanoseconds / 1_000_000
            let every = TimeAmount.milliseconds(min(max(lag / 4, 50), 1000))
            return group.next().scheduleRepeatedTask(initialDelay: every, delay: every) { _ in
                state.shrinkIsrs(now: RequestContext.nowMilliseconds())
            }
        }()
        lifecycle.withLockedValue {
            $0 = .running(Running(state: state, group: group, server: server, connections: connections, retention: retention,
                                  isrCheck: isrCheck,
                                  dataDirectory: dataDirectory, removeDataDirectory: removeDataDirectory,
                                  recoveries: recoveries))
        }
        logger.info("mock broker listening on \(configuration.host):\(port), data in \(dataDirectory)")
    }

    /// Stops listening, closes every connection and the logs (flushing them), and removes a temporary data
    /// directory.
    public func stop() async throws {
        try await shutdown()
    }

    /// Stops serving at once. In a ``MockCluster`` the broker stays registered (a kill: the controller notices only
    /// after `broker.session.timeout.ms`); a controlled stop moves its leaderships first, which the cluster does
    /// before calling this.
    ///
    /// - Parameter holdingPort: bind the port again (not listening) the moment the listener has closed, and return
    ///   that hold: a cluster's broker that is down keeps its port for when it starts again.
    @discardableResult
    func shutdown(holdingPort: Bool = false) async throws -> PortReservation? {
        let running: Running? = lifecycle.withLockedValue {
            guard case .running(let running) = $0 else { return nil }
            $0 = .stopped(running.state.counters.snapshot)
            return running
        }
        guard let running else { return nil }
        let nodeId = running.state.nodeId
        running.state.cluster.members.withLockedValue { $0[nodeId] = nil }
        let lone = running.state.cluster.isLoneBroker
        running.state.cluster.updateBroker(nodeId) {
            $0.running = false
            if lone { $0.registered = false }
        }
        running.retention.cancel()
        running.isrCheck?.cancel()
        await running.state.stopFetchers()
        try? await running.server.close()
        let held = holdingPort ? PortReservation(host: configuration.host, port: Int(running.state.advertisedPort)) : nil
        await running.connections.closeAll()
        await running.state.groups.shutdown()
        running.state.topics.close()
        try await running.group.shutdownGracefully()
        if running.removeDataDirectory { try? FileManager.default.removeItem(atPath: running.dataDirectory) }
        logger.info("mock broker stopped")
        return held
    }

    /// Serves until graceful shutdown (or cancellation), then stops. Starts the broker first if needed.
    public func run() async throws {
        if lifecycle.withLockedValue({ if case .idle = $0 { return true } else { return false } }) {
            try await start()
        }
        try? await gracefulShutdown()
        try await stop()
    }

    private func prepareDataDirectory() throws -> (String, Bool) {
        if let directory = configuration.dataDirectory {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return (directory, false)
        }
        var template = Array("\(NSTemporaryDirectory())/mock-broker-XXXXXX".utf8CString)
        guard let path = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw StorageError("mkdtemp", path: NSTemporaryDirectory())
        }
        return (String(cString: path), true)
    }

    private func running() throws -> Running {
        try lifecycle.withLockedValue {
            guard case .running(let running) = $0 else { throw LifecycleError.notRunning }
            return running
        }
    }

    /// `node.id`.
    public var nodeId: Int32 { configuration.nodeId }

    /// The running broker's state (for its cluster).
    var brokerState: BrokerState? { try? running().state }

    /// Closes every client connection (and those of other brokers' fetchers): the broker was cut off.
    func closeConnections() async {
        guard let running = try? running() else { return }
        await running.connections.closeAll()
    }

    // MARK: - Address

    /// The port the broker listens on (the chosen one when configured with 0).
    public var port: Int {
        (try? running().state.advertisedPort).map(Int.init) ?? configuration.port
    }

    public var host: String { configuration.advertisedHost ?? configuration.host }

    /// `host:port`, for a client's `bootstrap.servers`.
    public var bootstrapServers: String { "\(host):\(port)" }

    /// Where the partitions are stored.
    public var dataDirectory: String? { try? running().dataDirectory }

    /// Damage found on disk when the broker started, and what recovery cut away to leave only whole, valid
    /// batches (a torn tail after a crash, corrupt batches); empty when the data directory was intact. Each one
    /// was also logged (a warning for a torn tail, an error for corruption).
    public var recoveries: [LogRecovery] { (try? running().recoveries) ?? [] }

    // MARK: - Topics

    /// Creates a topic. `configs` take Kafka's topic config names (`retention.ms`, `segment.bytes`, ...).
    public func createTopic(_ name: String, partitions: Int32 = 1, configs: [String: String] = [:]) throws {
        let state = try running().state
        do {
            try state.cluster.createTopic(name: name, partitions: partitions, replicationFactor: -1, configs: configs,
                                          now: RequestContext.nowMilliseconds())
        } catch {
            throw MockBrokerError.topic(name, error.code, error.message ?? "")
        }
    }

    public func deleteTopic(_ name: String) throws {
        let state = try running().state
        do {
            _ = try state.cluster.deleteTopic(name: name)
        } catch {
            throw MockBrokerError.topic(name, error.code, error.message ?? "")
        }
    }

    /// Names of the broker's topics.
    public var topicNames: [String] { (try? running().state.topics.allTopics.map(\.name)) ?? [] }

    /// A partition's log start offset and high watermark.
    public func offsets(topic: String, partition: Int32) -> (logStartOffset: Int64, highWatermark: Int64)? {
        guard let log = try? running().state.topics.partition(topic, partition) else { return nil }
        let offsets = log.offsets
        return (offsets.logStartOffset, offsets.highWatermark)
    }

    /// Base offsets of a partition's segments, oldest first.
    public func segmentBaseOffsets(topic: String, partition: Int32) -> [Int64] {
        (try? running().state.topics.partition(topic, partition))??.segmentBaseOffsets ?? []
    }

    /// Runs retention now instead of waiting for the next check; returns the number of segments deleted.
    @discardableResult
    public func enforceRetention(now: Date = Date()) throws -> Int {
        try running().state.topics.enforceRetention(now: Int64(now.timeIntervalSince1970 * 1000))
    }

    // MARK: - Groups

    /// A consumer group as the coordinator sees it now (state, generation, leader, members with their metadata and
    /// assignments); nil when the broker has no such group.
    public func describeGroup(_ groupId: String) async throws -> GroupSnapshot? {
        try await running().state.groups.snapshot(groupId).get()
    }

    /// The ids of the broker's groups (including groups that only hold committed offsets).
    public func groupIds() async throws -> [String] {
        try await running().state.groups.allGroupIds().get()
    }

    /// The offsets `group` committed, by topic and partition.
    public func committedOffsets(group: String) async throws -> [CommittedOffset] {
        try await running().state.groups.committedOffsets(group).get()
    }

    /// Runs offset retention (`offsets.retention.minutes`) now, as of `now`, instead of waiting for the next
    /// check; returns the number of committed offsets expired.
    @discardableResult
    public func expireOffsets(now: Date = Date()) async throws -> Int {
        try await running().state.groups.expireOffsets(now: Int64(now.timeIntervalSince1970 * 1000)).get()
    }

    /// Adds a fault to inject into the broker's answers (see ``Fault``).
    public func injectFault(_ fault: Fault) throws {
        try running().state.faults.add(fault)
    }

    /// Removes every fault not yet used.
    public func clearFaults() throws {
        try running().state.faults.clear()
    }

    /// Faults not yet used up.
    public var pendingFaults: [Fault] { (try? running().state.faults.pending) ?? [] }

    /// What the broker has done so far (once stopped: until it stopped).
    public var statistics: BrokerStatistics {
        lifecycle.withLockedValue { lifecycle in
            switch lifecycle {
            case .idle: BrokerStatistics()
            case .running(let running):
                running.state.counters.snapshot.with { $0.connectionsOpen = Int64(running.connections.count) }
            case .stopped(let last): last
            }
        }
    }
}

/// Errors of the in-process broker API.
public enum MockBrokerError: Error, CustomStringConvertible {
    case topic(String, KafkaErrorCode, String)

    public var description: String {
        switch self {
        case let .topic(name, code, message): "topic \(name): \(code.name) \(message)"
        }
    }
}
