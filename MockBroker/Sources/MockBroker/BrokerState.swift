import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Everything request handlers share: configuration, topics, producer ids, fetch sessions, the group
/// coordinator, counters.
final class BrokerState: Sendable {
    let configuration: MockBrokerConfiguration
    let topics: TopicRegistry
    let producerIds: ProducerIdManager
    let fetchSessions: FetchSessionCache
    /// Groups and committed offsets, confined to one event loop of the broker.
    let groups: GroupCoordinator
    let counters: BrokerCounters
    let faults = FaultInjector()
    /// What the whole cluster agrees on (for a lone broker: a cluster of one).
    let cluster: ClusterMetadata
    let logger: Logger
    private let boundPort = NIOLockedValueBox(0)
    /// Where replica fetchers run their connections.
    let replicationGroup: any EventLoopGroup
    /// One fetcher per broker this one follows, by leader id.
    private let fetchers = NIOLockedValueBox<[Int32: ReplicaFetcher]>([:])
    private let fetchingStopped = NIOLockedValueBox(false)

    /// Opens the offsets log (replaying it) for the group coordinator, which runs on `coordinatorLoop`.
    init(configuration: MockBrokerConfiguration, dataDirectory: String, cluster: ClusterMetadata,
         coordinatorLoop: any EventLoop, replicationGroup: any EventLoopGroup, logger: Logger) throws {
        self.configuration = configuration
        self.replicationGroup = replicationGroup
        self.cluster = cluster
        var defaults = configuration.log
        defaults.minInsyncReplicas = cluster.settings.minInsyncReplicas
        defaults.uncleanLeaderElection = cluster.settings.uncleanLeaderElection
        topics = TopicRegistry(dataDirectory: dataDirectory, defaults: defaults,
                               maxPartitions: configuration.maxPartitions, partitionsLead: cluster.isLoneBroker)
        producerIds = ProducerIdManager(dataDirectory: dataDirectory,
                                        base: cluster.isLoneBroker ? 0 : Int64(configuration.nodeId) << 40)
        fetchSessions = FetchSessionCache(capacity: configuration.maxFetchSessions)
        counters = BrokerCounters(brokerId: configuration.nodeId, factory: configuration.metricsFactory)
        self.logger = logger
        let lone = cluster.isLoneBroker
        let partitions = cluster.settings.offsetsTopicPartitions
        let partitionOf: @Sendable (String) -> Int32? = { groupId in
            lone ? nil : BrokerState.offsetsPartition(of: groupId, partitions: partitions)
        }
        groups = try GroupCoordinator(configuration: configuration, dataDirectory: dataDirectory, topics: topics,
                                      eventLoop: coordinatorLoop, offsetsPartition: partitionOf, counters: counters, logger: logger)
    }

    /// The host and port clients are told to use.
    var advertisedHost: String { configuration.advertisedHost ?? configuration.host }
    var advertisedPort: Int32 {
        get { Int32(boundPort.withLockedValue { $0 }) }
    }

    func setBoundPort(_ port: Int) {
        boundPort.withLockedValue { $0 = port }
    }

    var nodeId: Int32 { configuration.nodeId }

    /// Takes on the partition states the cluster decided: leads, follows, or neither.
    func apply(_ changes: [ClusterMetadata.RoleChange]) {
        let now = RequestContext.nowMilliseconds()
        for change in changes {
            guard let log = topics.partition(change.topic, change.partition) else { continue }
            let record = change.record
            let coordinatorPartition = change.topic == GroupCoordinator.offsetsTopic && !cluster.isLoneBroker
            let wasLeader = coordinatorPartition && log.isLeader
            defer {
                // The group coordinator follows the leadership of its offsets partitions.
                if coordinatorPartition {
                    let isLeader = record.leader == nodeId
                    if isLeader && !wasLeader { groups.loadPartition(change.partition, log: log) }
                    if !isLeader && wasLeader { groups.unloadPartition(change.partition) }
                }
            }
            if record.leader == nodeId {
                log.becomeLeader(epoch: record.leaderEpoch, replicas: record.replicas, isr: record.isr, localId: nodeId, now: now)
            } else if record.replicas.contains(nodeId), record.leader >= 0 {
                log.becomeFollower(epoch: record.leaderEpoch, leaderId: record.leader)
            } else {
                log.becomeOffline(epoch: record.leaderEpoch)
            }
        }
        updateFetchers()
    }

    // MARK: - Replication

    /// The logs this broker follows `leaderId` for, with what a fetch needs of each.
    func followedLogs(leaderId: Int32) -> [(log: PartitionLog, fetch: PartitionLog.FollowerFetchState)] {
        topics.allTopics.flatMap(\.partitions).compactMap { log in
            log.followerFetchState(leaderId: leaderId).map { (log, $0) }
        }
    }

    /// Runs one fetcher per leader this broker follows, and no others.
    func updateFetchers() {
        var leaders = Set<Int32>()
        for log in topics.allTopics.flatMap(\.partitions) {
            if case .follower(let leader) = log.currentRole { leaders.insert(leader) }
        }
        let (started, stopped): ([ReplicaFetcher], [ReplicaFetcher]) = fetchers.withLockedValue { fetchers in
            if fetchingStopped.withLockedValue({ $0 }) { return ([], []) }
            let stale = fetchers.filter { !leaders.contains($0.key) }
            for id in stale.keys { fetchers[id] = nil }
            var new: [ReplicaFetcher] = []
            for leader in leaders where fetchers[leader] == nil {
                let fetcher = ReplicaFetcher(state: self, leaderId: leader, group: replicationGroup)
                fetchers[leader] = fetcher
                new.append(fetcher)
            }
            return (new, Array(stale.values))
        }
        for fetcher in stopped { Task { await fetcher.stop() } }
        for fetcher in started { fetcher.start() }
    }

    /// Stops every fetcher for good (the broker is stopping), once none uses the network any more.
    func stopFetchers() async {
        let all = fetchers.withLockedValue { fetchers in
            fetchingStopped.withLockedValue { $0 = true }
            defer { fetchers.removeAll() }
            return Array(fetchers.values)
        }
        for fetcher in all { await fetcher.stop() }
    }

    /// The leader's periodic ISR check (`replica.lag.time.max.ms`): lagging followers leave the ISR.
    func shrinkIsrs(now: Int64) {
        guard cluster.broker(nodeId)?.isolated != true else { return }
        let lagMax = cluster.settings.replicaLagTimeMax.nanoseconds / 1_000_000
        for log in topics.allTopics.flatMap(\.partitions) {
            if let isr = log.shrinkIsr(now: now, lagMax: lagMax) { isrChanged(log, isr: isr) }
        }
    }

    /// A leader's ISR changed (a follower caught up, or fell behind): the cluster records it, as Kafka's
    /// AlterPartition does. Ignored while this broker is cut off from the cluster, or no longer leads.
    func isrChanged(_ log: PartitionLog, isr: [Int32]) {
        guard cluster.broker(nodeId)?.isolated != true else { return }
        let epoch = log.currentLeaderEpoch
        cluster.updatePartition(log.topic, log.partition) { record in
            guard record.leader == nodeId, record.leaderEpoch == epoch else { return }
            record.isr = isr
        }
        logger.info("\(log.topic)-\(log.partition): ISR now \(isr)")
    }

    // MARK: - Group coordination

    /// Kafka's placement of a group: `abs(groupId.hashCode) % offsets.topic.num.partitions`, with Java's
    /// `String.hashCode` over UTF-16 code units.
    static func offsetsPartition(of groupId: String, partitions: Int32) -> Int32 {
        var hash: Int32 = 0
        for unit in groupId.utf16 { hash = hash &* 31 &+ Int32(unit) }
        return (hash & 0x7fff_ffff) % max(partitions, 1)
    }

    /// The broker coordinating `groupId`: the leader of its offsets partition (-1 when it has none); a lone
    /// broker coordinates every group.
    func coordinator(of groupId: String) -> Int32 {
        guard !cluster.isLoneBroker else { return nodeId }
        let partition = Self.offsetsPartition(of: groupId, partitions: cluster.settings.offsetsTopicPartitions)
        return cluster.partition(GroupCoordinator.offsetsTopic, partition)?.leader ?? -1
    }

    /// Completes once what the coordinator wrote for `groupId` so far is on every in-sync replica of its offsets
    /// partition (at once on a lone broker): NONE, NOT_COORDINATOR when the leadership moved meanwhile,
    /// COORDINATOR_NOT_AVAILABLE when too few replicas are in sync, REQUEST_TIMED_OUT after 5 s
    /// (`offsets.commit.timeout.ms`).
    func groupWritesReplicated(_ groupId: String, eventLoop: any EventLoop) -> EventLoopFuture<KafkaErrorCode> {
        guard !cluster.isLoneBroker else { return eventLoop.makeSucceededFuture(.none) }
        let partition = Self.offsetsPartition(of: groupId, partitions: cluster.settings.offsetsTopicPartitions)
        guard let log = topics.partition(GroupCoordinator.offsetsTopic, partition) else {
            return eventLoop.makeSucceededFuture(.notCoordinator)
        }
        let end = log.offsets.logEndOffset
        guard end > 0 else { return eventLoop.makeSucceededFuture(.none) }
        let promise = eventLoop.makePromise(of: KafkaErrorCode.self)
        let timer = eventLoop.scheduleTask(in: .seconds(5)) { promise.succeed(.requestTimedOut) }
        log.whenReplicated(through: end - 1) { code in
            eventLoop.execute {
                timer.cancel()
                switch code {
                case .none: promise.succeed(.none)
                case .notLeaderOrFollower: promise.succeed(.notCoordinator)
                default: promise.succeed(.coordinatorNotAvailable)
                }
            }
        }
        return promise.futureResult
    }
}
