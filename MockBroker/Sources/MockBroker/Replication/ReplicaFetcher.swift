import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// Keeps one broker's replicas of the partitions led by one other broker in step with the leader, as Kafka's
/// replica fetcher thread does: over a connection of its own it first asks the leader, by OffsetForLeaderEpoch,
/// where each newly followed partition diverges and truncates there; then it fetches (Fetch with its replica id
/// and the leader epoch it knows) from each log end, appending the leader's batches as they are.
///
/// It runs as one task until stopped; a leader that cannot be reached is retried every 100 ms.
final class ReplicaFetcher: Sendable {
    /// The Fetch and OffsetForLeaderEpoch versions it speaks (topics by name, replica id in the body).
    static let fetchVersion: Int16 = 12
    static let offsetForLeaderEpochVersion: Int16 = 4

    let leaderId: Int32
    private let state: BrokerState
    private let group: any EventLoopGroup
    private let task = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// The connection in use, so that stopping can close it (failing a fetch in progress at once).
    private let currentLink = NIOLockedValueBox<BrokerLink?>(nil)
    private let stopped = NIOLockedValueBox(false)

    init(state: BrokerState, leaderId: Int32, group: any EventLoopGroup) {
        self.state = state
        self.leaderId = leaderId
        self.group = group
    }

    func start() {
        let run = Task { [self] in await self.run() }
        task.withLockedValue { $0 = run }
    }

    /// Stops fetching; returns once the fetcher no longer touches the network (so its event loops may go).
    func stop() async {
        stopped.withLockedValue { $0 = true }
        let running = task.withLockedValue { $0 }
        running?.cancel()
        currentLink.withLockedValue { $0?.close() }
        await running?.value
    }

    private var isStopped: Bool { stopped.withLockedValue { $0 } || Task.isCancelled }

    private func pause(_ milliseconds: Int64) async {
        try? await Task.sleep(nanoseconds: UInt64(milliseconds) * 1_000_000)
    }

    private func run() async {
        var link: BrokerLink? {
            get { currentLink.withLockedValue { $0 } }
            set { currentLink.withLockedValue { $0 = newValue } }
        }
        defer { link?.close() }
        let settings = state.cluster.settings
        while !isStopped {
            // Cut off: no traffic either way until healed.
            if state.cluster.broker(state.nodeId)?.isolated == true {
                link?.close()
                link = nil
                await pause(100)
                continue
            }
            let followed = state.followedLogs(leaderId: leaderId)
            guard !followed.isEmpty, let leader = state.cluster.broker(leaderId), leader.running, !leader.isolated else {
                link?.close()
                link = nil
                await pause(100)
                continue
            }
            do {
                if link == nil {
                    guard !isStopped else { break }
                    link = try await BrokerLink.connect(host: leader.host, port: Int(leader.port), group: group,
                                                        clientId: "broker-\(state.nodeId)-fetcher-\(leaderId)")
                }
                guard let link else { continue }
                let diverging = followed.filter { $0.fetch.needsTruncation }
                if !diverging.isEmpty {
                    try await truncate(diverging, over: link)
                    continue
                }
                let progressed = try await fetch(followed, over: link, waitMs: Int32(settings.replicaFetchWaitMax.nanoseconds / 1_000_000))
                if !progressed { await pause(50) }
            } catch {
                state.logger.debug("replica fetcher \(state.nodeId) <- \(leaderId): \(error)")
                link?.close()
                link = nil
                await pause(100)
            }
        }
    }

    /// Asks the leader where each partition's log ends for the latest epoch here, and cuts the local log there
    /// (or at the local end of that epoch, if sooner): Kafka's truncation on becoming a follower.
    private func truncate(_ logs: [(log: PartitionLog, fetch: PartitionLog.FollowerFetchState)], over link: BrokerLink) async throws {
        var request = OffsetForLeaderEpochRequest()
        request.replicaId = state.nodeId
        request.topics = Dictionary(grouping: logs, by: \.log.topic).map { topic, entries in
            var result = OffsetForLeaderEpochRequest.OffsetForLeaderTopic()
            result.topic = topic
            result.partitions = entries.map { entry in
                var partition = OffsetForLeaderEpochRequest.OffsetForLeaderPartition()
                partition.partition = entry.log.partition
                partition.currentLeaderEpoch = entry.fetch.leaderEpoch
                partition.leaderEpoch = entry.fetch.latestEpoch
                return partition
            }
            return result
        }
        let response = try await link.send(request, version: Self.offsetForLeaderEpochVersion, timeout: .seconds(5))
        var retry = false
        for topic in response.topics {
            for answer in topic.partitions {
                guard let entry = logs.first(where: { $0.log.topic == topic.topic && $0.log.partition == answer.partition }) else {
                    continue
                }
                let log = entry.log
                guard answer.errorCode == 0 else {
                    retry = true
                    continue
                }
                if entry.fetch.latestEpoch >= 0 {
                    var target: Int64
                    if answer.leaderEpoch < 0 || answer.endOffset < 0 {
                        // The leader knows no such epoch: keep what is committed.
                        target = log.offsets.highWatermark
                    } else {
                        target = answer.endOffset
                        if let local = log.endOffset(forEpoch: answer.leaderEpoch), local.epoch == answer.leaderEpoch {
                            target = min(target, local.endOffset)
                        }
                    }
                    let before = log.offsets.logEndOffset
                    if target < before {
                        try log.truncate(to: target)
                        state.logger.info("\(log.topic)-\(log.partition): truncated from \(before) to \(log.offsets.logEndOffset) to follow broker \(leaderId) in epoch \(entry.fetch.leaderEpoch)")
                    }
                }
                log.setTruncationPending(false, epoch: entry.fetch.leaderEpoch)
            }
        }
        if retry { await pause(50) }
    }

    /// One replica fetch; returns whether anything was appended or the leader answered without error.
    private func fetch(_ logs: [(log: PartitionLog, fetch: PartitionLog.FollowerFetchState)], over link: BrokerLink,
                       waitMs: Int32) async throws -> Bool {
        var request = FetchRequest()
        request.replicaId = state.nodeId
        request.maxWaitMs = waitMs
        request.minBytes = 1
        request.maxBytes = 16 * 1024 * 1024
        request.sessionId = 0
        request.sessionEpoch = -1
        request.topics = Dictionary(grouping: logs, by: \.log.topic).map { topic, entries in
            FetchRequest.FetchTopic(topic: topic, partitions: entries.map { entry in
                FetchRequest.FetchPartition(partition: entry.log.partition, currentLeaderEpoch: entry.fetch.leaderEpoch,
                                            fetchOffset: entry.fetch.logEndOffset, lastFetchedEpoch: entry.fetch.latestEpoch,
                                            logStartOffset: -1, partitionMaxBytes: 4 * 1024 * 1024)
            })
        }
        let response = try await link.send(request, version: Self.fetchVersion, timeout: .milliseconds(Int64(waitMs) + 5000))
        guard response.errorCode == 0 else { return false }
        var healthy = false
        let now = RequestContext.nowMilliseconds()
        for topic in response.responses {
            for answer in topic.partitions {
                guard let entry = logs.first(where: { $0.log.topic == topic.topic && $0.log.partition == answer.partitionIndex }) else {
                    continue
                }
                switch KafkaErrorCode(rawValue: answer.errorCode) {
                case .none:
                    healthy = true
                    do {
                        try entry.log.appendAsFollower(answer.records?.buffer ?? ByteBuffer(),
                                                       leaderHighWatermark: answer.highWatermark,
                                                       leaderLogStartOffset: answer.logStartOffset, now: now)
                    } catch {
                        // Leadership changed under the fetch; the next round sees the new state.
                        state.logger.debug("\(entry.log.topic)-\(entry.log.partition): follower append: \(error)")
                    }
                case .offsetOutOfRange:
                    // The log ends past the leader's: it diverged. Check again.
                    entry.log.setTruncationPending(true, epoch: entry.fetch.leaderEpoch)
                default:
                    // Fenced or unknown epoch, not leader: the cluster's next change settles it.
                    continue
                }
            }
        }
        return healthy
    }
}
