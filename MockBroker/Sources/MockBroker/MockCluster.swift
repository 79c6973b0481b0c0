import Foundation
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers

/// Several ``MockBroker``s in one process forming a Kafka cluster: topics with a replication factor, followers
/// that replicate from their leaders with Kafka's replica Fetch, an ISR, leader epochs, a controller, and the
/// group coordinator on the replicated `__consumer_offsets` partitions; and the controls to break it: stop a
/// broker (controlled shutdown), kill it (the controller notices after `broker.session.timeout.ms`), start it
/// again, cut it off and heal it, move a partition's leader, inject faults.
///
/// ```swift
/// let cluster = try await MockCluster.start(brokers: 3)
/// try cluster.createTopic("orders", partitions: 3, replicationFactor: 3)
/// // ... point clients at cluster.bootstrapServers ...
/// try await cluster.killBroker(cluster.leader(topic: "orders", partition: 0)!)
/// try await cluster.stop()
/// ```
///
/// Brokers are numbered 0..<N. Each has its own port (`port`, `port + 1`, ... or free ports when the
/// configuration's port is 0) and data directory (`broker-<id>` under the cluster's; a temporary one, removed
/// when the cluster stops, unless the configuration names one).
public final class MockCluster: Sendable {
    /// Why a control was refused.
    public enum ClusterError: Error, CustomStringConvertible {
        case unknownBroker(Int32)
        case brokerRunning(Int32)
        case brokerNotRunning(Int32)
        case leaderMove(String)

        /// The reason, as a sentence.
        public var description: String {
            switch self {
            case .unknownBroker(let id): "there is no broker \(id)"
            case .brokerRunning(let id): "broker \(id) is already running"
            case .brokerNotRunning(let id): "broker \(id) is not running"
            case .leaderMove(let reason): "cannot move the leader: \(reason)"
            }
        }
    }

    private struct Slot {
        var configuration: MockBrokerConfiguration
        var broker: MockBroker?
        /// Raised at every start and kill, so that a session expiry scheduled by a kill ignores a later start.
        var incarnation = 0
        /// While the broker is stopped or killed, its port, held so that clients are refused rather than answered
        /// by whatever else was given the port meanwhile.
        var heldPort: PortReservation?
    }

    /// The configuration every broker starts from (node id, port and data directory are set per broker).
    public let configuration: MockBrokerConfiguration
    let metadata: ClusterMetadata
    private let logger: Logger
    private let slots: NIOLockedValueBox<[Slot]>
    private let rootDirectory: String
    private let removeRoot: Bool

    private init(configuration: MockBrokerConfiguration, brokers: Int, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        if let directory = configuration.dataDirectory {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            rootDirectory = directory
            removeRoot = false
        } else {
            var template = Array("\(NSTemporaryDirectory())/mock-cluster-XXXXXX".utf8CString)
            guard let path = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
                throw StorageError("mkdtemp", path: NSTemporaryDirectory())
            }
            rootDirectory = String(cString: path)
            removeRoot = true
        }
        let root = rootDirectory
        // What the cluster agrees on is kept next to the brokers' directories, so that a cluster started again on
        // the same directory finds its topics, assignments and epochs.
        metadata = ClusterMetadata(settings: configuration.replication, isLoneBroker: false,
                                   persistencePath: "\(root)/cluster.json")
        slots = NIOLockedValueBox((0..<brokers).map { index in
            var broker = configuration
            broker.nodeId = Int32(index)
            broker.port = configuration.port == 0 ? 0 : configuration.port + index
            broker.dataDirectory = "\(root)/broker-\(index)"
            return Slot(configuration: broker)
        })
    }

    /// Starts `brokers` brokers and creates `__consumer_offsets` (`offsets.topic.num.partitions` partitions,
    /// `offsets.topic.replication.factor` replicas or as many as there are brokers).
    public static func start(brokers: Int = 3, configuration: MockBrokerConfiguration = MockBrokerConfiguration(),
                             logger: Logger = Logger(label: "mock-cluster")) async throws -> MockCluster {
        precondition(brokers >= 1, "a cluster needs a broker")
        let cluster = try MockCluster(configuration: configuration, brokers: brokers, logger: logger)
        do {
            for id in 0..<brokers { try await cluster.startBroker(Int32(id)) }
            try cluster.createOffsetsTopic()
        } catch {
            try? await cluster.stop()
            throw error
        }
        return cluster
    }

    private func createOffsetsTopic() throws {
        let name = GroupCoordinator.offsetsTopic
        guard metadata.topic(name) == nil else { return }
        let settings = metadata.settings
        let factor = min(Int(settings.offsetsTopicReplicationFactor), metadata.registeredBrokerCount)
        do {
            try metadata.createTopic(name: name, partitions: settings.offsetsTopicPartitions,
                                     replicationFactor: Int16(max(factor, 1)),
                                     configs: ["cleanup.policy": "compact", "retention.ms": "-1"],
                                     now: RequestContext.nowMilliseconds())
        } catch .alreadyExists {
            // A broker found it in its data directory.
        } catch {
            throw MockBrokerError.topic(name, error.code, error.message ?? "")
        }
    }

    // MARK: - Brokers

    /// Broker ids, 0..<N.
    public var brokerIds: [Int32] { slots.withLockedValue { (0..<$0.count).map(Int32.init) } }

    /// The running broker `id` (nil while it is stopped or killed).
    public func broker(_ id: Int32) -> MockBroker? {
        slots.withLockedValue { slots in Int(id) < slots.count && id >= 0 ? slots[Int(id)].broker : nil }
    }

    /// `host:port` of every running broker, for a client's `bootstrap.servers`.
    public var bootstrapServers: String {
        brokerIds.compactMap { broker($0)?.bootstrapServers }.joined(separator: ",")
    }

    /// The controller's broker id (-1 when no broker is registered).
    public var controllerId: Int32 { metadata.controllerId }

    private func slot(_ id: Int32) throws -> Slot {
        try slots.withLockedValue { slots in
            guard id >= 0, Int(id) < slots.count else { throw ClusterError.unknownBroker(id) }
            return slots[Int(id)]
        }
    }

    /// Starts broker `id` again (on the port it had) with its data directory. A broker killed less than
    /// `broker.session.timeout.ms` ago is fenced first, as a new registration of a broker fences the old one: it
    /// rejoins as a follower, truncating what its log has beyond the leaders' by OffsetForLeaderEpoch.
    public func startBroker(_ id: Int32) async throws {
        var slot = try slot(id)
        guard slot.broker == nil else { throw ClusterError.brokerRunning(id) }
        if metadata.broker(id)?.registered == true { metadata.fence(id) }
        let broker = MockBroker(configuration: slot.configuration, cluster: metadata, logger: brokerLogger(id))
        // The hold on the port is let go only once the broker listens there (its SO_REUSEADDR listener may bind
        // beside a socket that is bound and not listening), so that the port is never free in between.
        try await broker.start()
        slot.heldPort?.release()
        slot.heldPort = nil
        slot.configuration.port = broker.port
        slot.broker = broker
        slot.incarnation += 1
        let updated = slot
        slots.withLockedValue { $0[Int(id)] = updated }
        metadata.register(id)
        logger.info("broker \(id) started on \(broker.bootstrapServers)")
    }

    private func brokerLogger(_ id: Int32) -> Logger {
        var logger = self.logger
        logger[metadataKey: "broker"] = "\(id)"
        return logger
    }

    private func takeBroker(_ id: Int32) throws -> MockBroker {
        try slots.withLockedValue { slots in
            guard id >= 0, Int(id) < slots.count else { throw ClusterError.unknownBroker(id) }
            guard let broker = slots[Int(id)].broker else { throw ClusterError.brokerNotRunning(id) }
            slots[Int(id)].broker = nil
            slots[Int(id)].incarnation += 1
            return broker
        }
    }

    /// Keeps `reservation` (the port of broker `id`, stopped) until the broker starts again, unless it already has.
    private func hold(_ reservation: PortReservation?, for id: Int32) {
        guard let reservation else { return }
        let kept = slots.withLockedValue { slots in
            guard slots[Int(id)].broker == nil, slots[Int(id)].heldPort == nil else { return false }
            slots[Int(id)].heldPort = reservation
            return true
        }
        if !kept { reservation.release() }
    }

    /// Controlled shutdown: the broker's leaderships move to other in-sync replicas and it leaves the ISRs, then
    /// it stops. Until it starts again its port stays bound and not listening: clients are refused, and no other
    /// listener on the machine is given the port meanwhile.
    public func stopBroker(_ id: Int32) async throws {
        _ = try slot(id)
        guard broker(id) != nil else { throw ClusterError.brokerNotRunning(id) }
        metadata.fence(id)
        let broker = try takeBroker(id)
        hold(try await broker.shutdown(holdingPort: true), for: id)
        logger.info("broker \(id) stopped (controlled)")
    }

    /// Kills the broker: it stops answering at once, and only after `broker.session.timeout.ms` does the
    /// controller fence it and move its leaderships (until then clients see a leader they cannot reach). Its port
    /// is held as after ``stopBroker(_:)``.
    public func killBroker(_ id: Int32) async throws {
        let broker = try takeBroker(id)
        let incarnation = try slot(id).incarnation
        hold(try await broker.shutdown(holdingPort: true), for: id)
        logger.info("broker \(id) killed")
        scheduleSessionExpiry(id, incarnation: incarnation)
    }

    /// After `broker.session.timeout.ms`, fences `id` unless it came back (or was healed) meanwhile.
    private func scheduleSessionExpiry(_ id: Int32, incarnation: Int) {
        let timeout = metadata.settings.brokerSessionTimeout
        Task { [self] in
            try? await Task.sleep(nanoseconds: UInt64(max(timeout.nanoseconds, 0)))
            guard (try? self.slot(id).incarnation) == incarnation, self.metadata.broker(id)?.registered == true else { return }
            let cutOff = self.metadata.broker(id)?.isolated == true
            guard cutOff || self.broker(id) == nil else { return }
            self.logger.info("broker \(id): session expired; fencing it")
            self.metadata.fence(id)
        }
    }

    /// Cuts the broker off from clients and from the other brokers: its connections close and new ones are
    /// refused, its fetchers stop, and Metadata no longer lists it. After `broker.session.timeout.ms` the
    /// controller fences it (leaderships move); its own state stays as it was until ``heal(_:)``.
    public func isolate(_ id: Int32) async throws {
        guard let broker = broker(id) else { throw ClusterError.brokerNotRunning(id) }
        metadata.updateBroker(id) { $0.isolated = true }
        await broker.closeConnections()
        slots.withLockedValue { $0[Int(id)].incarnation += 1 }
        scheduleSessionExpiry(id, incarnation: try slot(id).incarnation)
        logger.info("broker \(id) isolated")
    }

    /// Reconnects a cut-off broker: it registers again, learns the partitions' current state (following the new
    /// leaders and truncating where its log diverged) and catches up.
    public func heal(_ id: Int32) async throws {
        guard let broker = broker(id), let state = broker.brokerState else { throw ClusterError.brokerNotRunning(id) }
        metadata.updateBroker(id) { $0.isolated = false }
        slots.withLockedValue { $0[Int(id)].incarnation += 1 }
        if metadata.broker(id)?.registered == false { metadata.register(id) }
        metadata.join(state, now: RequestContext.nowMilliseconds())
        logger.info("broker \(id) healed")
    }

    // MARK: - Topics and partitions

    /// Creates a topic; `replicationFactor` -1 means `default.replication.factor`.
    public func createTopic(_ name: String, partitions: Int32 = 1, replicationFactor: Int16 = -1,
                            configs: [String: String] = [:]) throws {
        do {
            try metadata.createTopic(name: name, partitions: partitions, replicationFactor: replicationFactor,
                                     configs: configs, now: RequestContext.nowMilliseconds())
        } catch {
            throw MockBrokerError.topic(name, error.code, error.message ?? "")
        }
    }

    /// A partition's replicas, leader, epoch and ISR, as the controller has them.
    public func partition(topic: String, partition: Int32) -> PartitionStatus? {
        metadata.partition(topic, partition).map { record in
            PartitionStatus(partition: partition, leader: record.leader, leaderEpoch: record.leaderEpoch,
                            replicas: record.replicas, isr: record.isr,
                            highWatermark: leaderLog(topic, partition, record)?.offsets.highWatermark ?? -1,
                            logEndOffsets: logEndOffsets(topic, partition, record))
        }
    }

    /// The leader of a partition (nil when it has none).
    public func leader(topic: String, partition: Int32) -> Int32? {
        metadata.partition(topic, partition).flatMap { $0.leader >= 0 ? $0.leader : nil }
    }

    private func leaderLog(_ topic: String, _ partition: Int32, _ record: ClusterMetadata.PartitionRecord) -> PartitionLog? {
        guard record.leader >= 0 else { return nil }
        return broker(record.leader)?.brokerState?.topics.partition(topic, partition)
    }

    private func logEndOffsets(_ topic: String, _ partition: Int32, _ record: ClusterMetadata.PartitionRecord) -> [String: Int64] {
        var ends: [String: Int64] = [:]
        for replica in record.replicas {
            if let log = broker(replica)?.brokerState?.topics.partition(topic, partition) {
                ends[String(replica)] = log.offsets.logEndOffset
            }
        }
        return ends
    }

    /// The broker coordinating `groupId`: the leader of its `__consumer_offsets` partition (nil when it has none).
    public func coordinator(ofGroup groupId: String) -> Int32? {
        let partition = BrokerState.offsetsPartition(of: groupId, partitions: metadata.settings.offsetsTopicPartitions)
        return leader(topic: GroupCoordinator.offsetsTopic, partition: partition)
    }

    /// Moves a partition's leadership to `broker` (a live in-sync replica).
    public func moveLeader(topic: String, partition: Int32, to broker: Int32) throws {
        do {
            try metadata.moveLeader(topic: topic, partition: partition, to: broker)
        } catch {
            throw ClusterError.leaderMove(error.description)
        }
    }

    // MARK: - Faults

    /// Adds a fault to one broker's answers, or to every running broker's (`broker` nil).
    public func injectFault(_ fault: Fault, broker id: Int32? = nil) throws {
        let targets = try id.map { id -> [MockBroker] in
            guard let broker = broker(id) else { throw ClusterError.brokerNotRunning(id) }
            return [broker]
        } ?? brokerIds.compactMap { broker($0) }
        for broker in targets { try broker.injectFault(fault) }
    }

    /// Faults not yet used up, by broker id.
    public var pendingFaults: [Int32: [Fault]] {
        var result: [Int32: [Fault]] = [:]
        for id in brokerIds { if let broker = broker(id), !broker.pendingFaults.isEmpty { result[id] = broker.pendingFaults } }
        return result
    }

    /// Removes every pending fault from every running broker.
    public func clearFaults() {
        for id in brokerIds { try? broker(id)?.clearFaults() }
    }

    // MARK: - Status

    /// The cluster as `GET /status` shows it.
    public func status() async -> ClusterStatus {
        let brokers = metadata.brokers.map { record in
            ClusterStatus.Broker(id: record.id, host: record.host, port: record.port,
                                 running: broker(record.id) != nil, registered: record.registered, isolated: record.isolated)
        }
        let topics = metadata.topicNames.map { name in
            ClusterStatus.Topic(name: name, partitions: (0..<Int32(metadata.partitions(of: name)?.count ?? 0)).compactMap {
                partition(topic: name, partition: $0)
            })
        }
        var groups: [ClusterStatus.Group] = []
        for id in brokerIds {
            guard let broker = broker(id), let ids = try? await broker.groupIds() else { continue }
            for groupId in ids {
                guard let snapshot = try? await broker.describeGroup(groupId) else { continue }
                groups.append(ClusterStatus.Group(groupId: groupId, coordinator: id, state: snapshot.state.rawValue,
                                                  generation: snapshot.generationId, members: snapshot.members.map(\.memberId)))
            }
        }
        return ClusterStatus(controller: controllerId, brokers: brokers, topics: topics,
                             groups: groups.sorted { $0.groupId < $1.groupId })
    }

    /// Stops every broker and removes a temporary data directory.
    public func stop() async throws {
        for id in brokerIds {
            if let broker = try? takeBroker(id) { _ = try? await broker.shutdown() }
        }
        slots.withLockedValue { slots in
            for index in slots.indices {
                slots[index].heldPort?.release()
                slots[index].heldPort = nil
            }
        }
        if removeRoot { try? FileManager.default.removeItem(atPath: rootDirectory) }
    }
}
