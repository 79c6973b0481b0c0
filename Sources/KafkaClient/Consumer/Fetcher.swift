import KafkaProtocol
import Logging
import Metrics
import NIOConcurrencyHelpers
import NIOCore

/// Fetches records for the assigned partitions from their leaders: one Fetch in flight per broker, with an
/// incremental fetch session per broker (KIP-227) where the broker offers them. It also finds positions for
/// partitions that have none: the group's committed offset, else `auto.offset.reset` through ListOffsets.
///
/// All of its state lives on one event loop; `wakeup()` may be called from anywhere.
///
/// `@unchecked Sendable`: the mutable state is touched on `eventLoop` only (public entry points hop there).
final class Fetcher: @unchecked Sendable {
    let eventLoop: any EventLoop
    private let cluster: ClusterClient
    private let subscriptions: SubscriptionState
    private let buffer: FetchBuffer
    private let configuration: ConsumerConfiguration
    private let logger: Logger
    /// Committed offsets of partitions, from the group coordinator (nil without a group).
    private let committedOffsets: (@Sendable ([TopicPartition]) async throws -> [TopicPartition: OffsetAndMetadata])?
    private let wakeups = CoalescedWakeup()

    private var inFlight: Set<Int32> = []
    private var sessions: [Int32: Session] = [:]
    /// Where each partition's next fetch continues (after data already fetched ahead), valid for one epoch, with
    /// the leader epoch of the last batch fetched (the fetch's `LastFetchedEpoch`, KIP-320).
    private var nextFetch: [TopicPartition: (offset: Int64, epoch: UInt64, lastFetchedEpoch: Int32)] = [:]
    /// Read-ahead bounds: per partition about two fetches, in all `fetch.max.bytes`.
    private var partitionPrefetchLimit: Int { 2 * Int(configuration.maxPartitionFetchBytes) }
    private var totalPrefetchLimit: Int { max(Int(configuration.fetchMaxBytes), partitionPrefetchLimit) }
    /// When each partition last got records (a count of fetches with records): a full fetch lists the partitions
    /// served longest ago first. Only the first partition with data in a response may exceed
    /// `max.partition.fetch.bytes` (to return one whole batch), so each must get its turn at the front.
    private var lastServed: [TopicPartition: UInt64] = [:]
    private var servedCount: UInt64 = 0
    private var resolving: Set<TopicPartition> = []
    /// Partitions whose last fetch failed are left alone until then (`retry.backoff.ms`), so a broker that keeps
    /// answering with an error is not asked again in a tight loop while the metadata catches up.
    private var backoffUntil: [TopicPartition: NIODeadline] = [:]
    /// Errors already handed to the application, by partition and position epoch: each is reported once, not at
    /// every retry.
    private var reported: [TopicPartition: (code: KafkaErrorCode, epoch: UInt64)] = [:]
    private var reportedUnsupportedFetch: Set<Int32> = []
    /// Metadata is not asked for again before this (`retry.backoff.ms`).
    private var nextMetadataRefresh = NIODeadline.uptimeNanoseconds(0)
    private var refreshingMetadata = false
    private var timer: Scheduled<Void>?
    private var stopped = false

    private let metrics: ConsumerMetrics

    /// An incremental fetch session with one broker, as this side knows it.
    private struct Session {
        var id: Int32 = 0
        var epoch: Int32 = 0
        /// What the session holds: partition -> (fetch offset, max bytes), as last sent.
        var partitions: [TopicPartition: (offset: Int64, maxBytes: Int32)] = [:]
    }

    init(eventLoop: any EventLoop, cluster: ClusterClient, subscriptions: SubscriptionState, buffer: FetchBuffer,
         configuration: ConsumerConfiguration, logger: Logger, metrics: ConsumerMetrics,
         committedOffsets: (@Sendable ([TopicPartition]) async throws -> [TopicPartition: OffsetAndMetadata])?) {
        self.metrics = metrics
        self.eventLoop = eventLoop
        self.cluster = cluster
        self.subscriptions = subscriptions
        self.buffer = buffer
        self.configuration = configuration
        self.logger = logger
        self.committedOffsets = committedOffsets
    }

    func wakeup() {
        wakeups.wake(on: eventLoop) { self.run() }
    }

    func stop() {
        eventLoop.execute {
            self.stopped = true
            self.timer?.cancel()
        }
    }

    // MARK: - The loop

    private func run() {
        wakeups.begin()
        guard !stopped else { return }
        resolvePositions()
        let metadata = cluster.metadata
        var byNode: [Int32: [SubscriptionState.Fetchable]] = [:]
        /// Nodes with a partition held back by the read-ahead bounds.
        var heldBack: Set<Int32> = []
        var unknown: Set<String> = []
        let hasRoom = buffer.bufferedBytes < totalPrefetchLimit
        let now = NIODeadline.now()
        var nextRetry: NIODeadline?
        for var fetchable in subscriptions.fetchable {
            if let until = backoffUntil[fetchable.partition] {
                guard until <= now else {
                    nextRetry = min(nextRetry ?? until, until)
                    continue
                }
                backoffUntil[fetchable.partition] = nil
            }
            if let chain = nextFetch[fetchable.partition], chain.epoch == fetchable.epoch {
                fetchable.offset = chain.offset
                fetchable.leaderEpoch = chain.lastFetchedEpoch
            } else {
                nextFetch[fetchable.partition] = nil
            }
            guard let leader = metadata.leader(of: fetchable.partition.topic, partition: fetchable.partition.partition) else {
                unknown.insert(fetchable.partition.topic)
                continue
            }
            guard hasRoom && buffer.heldBytes(fetchable.partition) < partitionPrefetchLimit else {
                heldBack.insert(leader)
                continue
            }
            byNode[leader, default: []].append(fetchable)
        }
        if !unknown.isEmpty || cluster.metadataIsStale { refreshMetadata(unknown) }
        // A node with a partition held back gets no fetch for the rest: those may all be at their end, and a long
        // poll for them would keep the connection (one fetch at a time) from asking for the held-back one once the
        // application makes room, for up to fetch.max.wait.ms. Making room wakes the fetcher, and that fetch
        // asks for all of them.
        for (node, partitions) in byNode where !inFlight.contains(node) && !heldBack.contains(node) {
            fetch(from: node, partitions.sorted { lastServed[$0.partition, default: 0] < lastServed[$1.partition, default: 0] })
        }
        timer?.cancel()
        timer = eventLoop.scheduleTask(deadline: min(nextRetry ?? .now() + .seconds(1), .now() + .seconds(1))) { self.run() }
    }

    private func backOff(_ partitions: some Sequence<TopicPartition>, for delay: TimeAmount? = nil) {
        let until = NIODeadline.now() + (delay ?? configuration.client.retryBackoff.timeAmount)
        for partition in partitions { backoffUntil[partition] = until }
    }

    /// Hands an error to the application, unless it already has it for this position.
    private func report(_ error: KafkaConsumerError, code: KafkaErrorCode, for partitions: [TopicPartition]) {
        var fresh = false
        for partition in partitions {
            guard let epoch = subscriptions.position(of: partition)?.epoch else { continue }
            if let last = reported[partition], last.code == code, last.epoch == epoch { continue }
            reported[partition] = (code, epoch)
            fresh = true
        }
        if fresh { buffer.add(error) }
    }

    private func refreshMetadata(_ topics: Set<String>) {
        guard !refreshingMetadata else { return }
        let now = NIODeadline.now()
        guard now >= nextMetadataRefresh else {
            _ = eventLoop.scheduleTask(deadline: nextMetadataRefresh) { self.wakeup() }
            return
        }
        nextMetadataRefresh = now + configuration.client.retryBackoff.timeAmount
        refreshingMetadata = true
        cluster.refreshMetadata(adding: topics, allowAutoTopicCreation: false).hop(to: eventLoop).whenComplete { result in
            self.refreshingMetadata = false
            if case .failure(let error) = result { self.logger.debug("metadata refresh failed: \(error)") }
            self.wakeup()
        }
    }

    // MARK: - Fetching

    private func fetch(from node: Int32, _ partitions: [SubscriptionState.Fetchable]) {
        inFlight.insert(node)
        cluster.connection(to: node).hop(to: eventLoop).whenComplete { result in
            switch result {
            case .success(let connection):
                self.fetch(from: node, over: connection, partitions)
            case .failure(let error):
                self.logger.debug("no connection to node \(node): \(error)")
                self.inFlight.remove(node)
                self.sessions[node] = nil
                self.cluster.invalidateMetadata()
                _ = self.eventLoop.scheduleTask(in: self.configuration.client.reconnectBackoff.timeAmount) { self.wakeup() }
            }
        }
    }

    private func fetch(from node: Int32, over connection: BrokerConnection, _ partitions: [SubscriptionState.Fetchable]) {
        let metadata = cluster.metadata
        guard var version = try? connection.version(for: FetchRequest.self) else {
            inFlight.remove(node)
            backOff(partitions.map(\.partition))
            if reportedUnsupportedFetch.insert(node).inserted {
                buffer.add(.broker(.unsupportedVersion, context: "Fetch from node \(node)"))
            }
            return
        }
        // Topic ids (v13+) need every topic's id from the metadata.
        if partitions.contains(where: { (metadata.topics[$0.partition.topic]?.id ?? .zero) == .zero }) { version = min(version, 12) }
        let wanted = Dictionary(partitions.map { ($0.partition, $0) }, uniquingKeysWith: { first, _ in first })
        let maxBytes = configuration.maxPartitionFetchBytes
        let session = sessions[node] ?? Session()
        let incremental = version >= 7 && session.id != 0
        var toSend: [SubscriptionState.Fetchable] = partitions
        var forgotten: [TopicPartition] = []
        if incremental {
            toSend = partitions.filter { partition in
                guard let known = session.partitions[partition.partition] else { return true }
                return known.offset != partition.offset || known.maxBytes != maxBytes
            }
            forgotten = session.partitions.keys.filter { wanted[$0] == nil }
        }
        var topics: [String: [FetchRequest.FetchPartition]] = [:]
        var topicOrder: [String] = [] // as the partitions come: served longest ago first
        for partition in toSend {
            if topics[partition.partition.topic] == nil { topicOrder.append(partition.partition.topic) }
            let leaderEpoch = metadata.leaderEpoch(of: partition.partition.topic, partition: partition.partition.partition) ?? -1
            // v12+: the leader compares the epoch of what we fetched last with its own history and answers with
            // the point where the logs diverge when ours was truncated (after an unclean leader change).
            topics[partition.partition.topic, default: []].append(.init(
                partition: partition.partition.partition, currentLeaderEpoch: leaderEpoch, fetchOffset: partition.offset,
                lastFetchedEpoch: version >= 12 ? partition.leaderEpoch : -1, partitionMaxBytes: maxBytes))
        }
        var forgottenTopics: [String: [Int32]] = [:]
        for partition in forgotten { forgottenTopics[partition.topic, default: []].append(partition.partition) }
        let request = FetchRequest(
            maxWaitMs: Int32(configuration.fetchMaxWait.timeAmount.nanoseconds / 1_000_000), minBytes: configuration.fetchMinBytes,
            maxBytes: configuration.fetchMaxBytes, isolationLevel: configuration.isolationLevel.rawValue,
            sessionId: version >= 7 ? session.id : 0, sessionEpoch: version >= 7 ? session.epoch : -1,
            topics: topicOrder.map { name in
                .init(topic: name, topicId: metadata.topics[name]?.id ?? .zero, partitions: topics[name]!)
            },
            forgottenTopicsData: forgottenTopics.keys.sorted().map { name in
                .init(topic: name, topicId: metadata.topics[name]?.id ?? .zero, partitions: forgottenTopics[name]!)
            }
        )
        // v13+ answers name topics by id: the ids of the topics this fetch asks for, not of every topic the cluster has.
        let names: [KafkaUUID: String] = version < 13 ? [:] : Dictionary(
            wanted.keys.compactMap { partition in metadata.topics[partition.topic].map { ($0.id, partition.topic) } },
            uniquingKeysWith: { first, _ in first })
        let started = NIODeadline.now()
        let sent = session
        let usedVersion = version
        connection.sendRequest(request, version: usedVersion).hop(to: eventLoop).whenComplete { result in
            self.inFlight.remove(node)
            self.metrics.fetchLatency.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
            switch result {
            case .success(let response):
                let code = KafkaErrorCode(rawValue: response.errorCode)
                if code == .fetchSessionIdNotFound || code == .invalidFetchSessionEpoch || response.sessionId == 0 {
                    // Start over with a full fetch (which asks for a new session).
                    self.sessions[node] = nil
                } else if usedVersion >= 7 {
                    var next = sent
                    next.id = response.sessionId
                    next.epoch = incremental ? (sent.epoch == Int32.max ? 1 : sent.epoch + 1) : 1
                    next.partitions = wanted.mapValues { ($0.offset, maxBytes) }
                    self.sessions[node] = next
                }
                if code == .none { self.handle(response, wanted: wanted, topicNames: names, version: usedVersion) }
            case .failure(let error):
                self.logger.debug("fetch from node \(node) failed: \(error)")
                self.sessions[node] = nil
                self.cluster.invalidateMetadata()
                self.backOff(wanted.keys)
            }
            self.wakeup()
        }
    }

    private func handle(_ response: FetchResponse, wanted: [TopicPartition: SubscriptionState.Fetchable],
                        topicNames: [KafkaUUID: String], version: Int16) {
        for topic in response.responses {
            let name = version >= 13 ? (topicNames[topic.topicId] ?? "") : topic.topic
            for data in topic.partitions {
                let partition = TopicPartition(topic: name, partition: data.partitionIndex)
                guard let requested = wanted[partition], subscriptions.isCurrent(partition, epoch: requested.epoch),
                      requested.offset == expectedOffset(partition, epoch: requested.epoch)
                else { continue }
                let code = KafkaErrorCode(rawValue: data.errorCode)
                switch code {
                case .none:
                    subscriptions.updateOffsets(partition, highWatermark: data.highWatermark, logStartOffset: data.logStartOffset,
                                                lastStableOffset: data.lastStableOffset)
                    if let lag = subscriptions.lag(of: partition) { metrics.recordLag(lag, of: partition) }
                    if data.divergingEpoch.epoch >= 0 || data.divergingEpoch.endOffset >= 0 {
                        divergence(partition, at: data.divergingEpoch.endOffset, epoch: data.divergingEpoch.epoch, requested: requested)
                        continue
                    }
                    guard let records = data.records?.buffer, records.readableBytes > 0 else { continue }
                    let (next, lastEpoch, problem) = Self.offsetAfterCompleteBatches(records, from: requested.offset)
                    guard next > requested.offset else {
                        // Bytes but not one whole batch to hand out: asking again would get the same answer, in a
                        // tight loop. (A broker returns at least one whole batch, whatever the size limits.)
                        backOff([partition], for: configuration.client.retryBackoffMax.timeAmount)
                        let reason = problem.map { "\($0) at offset \(requested.offset)" }
                            ?? "the fetch at offset \(requested.offset) returned \(records.readableBytes) bytes without a whole record batch"
                        report(.corruptRecords(partition, reason), code: .corruptMessage, for: [partition])
                        continue
                    }
                    metrics.bytesFetched.increment(by: records.readableBytes)
                    servedCount += 1
                    lastServed[partition] = servedCount
                    nextFetch[partition] = (next, requested.epoch, lastEpoch ?? requested.leaderEpoch)
                    buffer.add(CompletedFetch(
                        partition: partition, fetchOffset: requested.offset, epoch: requested.epoch, records: records,
                        nextOffset: next, highWatermark: data.highWatermark,
                        abortedTransactions: data.abortedTransactions?.map { ($0.producerId, $0.firstOffset) }
                    ))
                case .offsetOutOfRange:
                    // Records are skipped (or read again): the user must see it.
                    logger.warning("offset \(requested.offset) out of range; resetting to \(configuration.autoOffsetReset.rawValue)",
                                   metadata: ["kafka.topic": "\(partition.topic)", "kafka.partition": "\(partition.partition)"])
                    subscriptions.requestReset(partition, to: .reset)
                case .topicAuthorizationFailed, .recordListTooLarge, .corruptMessage:
                    // Not retriable: the application hears of it (once per position), and the partition is asked
                    // for again only after a pause.
                    backOff([partition], for: configuration.client.retryBackoffMax.timeAmount)
                    report(.broker(code, context: "fetching \(partition)"), code: code, for: [partition])
                default:
                    if data.currentLeader.leaderId >= 0 {
                        cluster.learnLeader(topic: partition.topic, partition: partition.partition,
                                            leader: data.currentLeader.leaderId, epoch: data.currentLeader.leaderEpoch, address: nil)
                    } else {
                        cluster.invalidateMetadata()
                    }
                    backOff([partition])
                    logger.debug("\(partition): fetch error \(code.name)")
                }
            }
        }
    }

    /// The leader told us that our log diverges from its own at `offset` (KIP-320): what was fetched past that
    /// point was truncated away, after a leader change that lost records. As the Java client does, the position
    /// moves back to the divergence point when `auto.offset.reset` allows a reset; otherwise the application hears
    /// of the truncation.
    private func divergence(_ partition: TopicPartition, at offset: Int64, epoch: Int32,
                            requested: SubscriptionState.Fetchable) {
        nextFetch[partition] = nil
        guard offset >= 0, offset < requested.offset else {
            // Nothing we fetched lies beyond the divergence: fetch on with the epoch the leader named.
            nextFetch[partition] = (requested.offset, requested.epoch, epoch)
            return
        }
        if configuration.autoOffsetReset == .none {
            report(.logTruncated(partition, fetchedUpTo: requested.offset, divergesAt: offset), code: .offsetOutOfRange,
                   for: [partition])
            backOff([partition], for: configuration.client.retryBackoffMax.timeAmount)
            return
        }
        logger.warning("\(partition): log truncation detected; records from offset \(offset) on were replaced; continuing from \(offset)",
                       metadata: ["kafka.topic": "\(partition.topic)", "kafka.partition": "\(partition.partition)"])
        _ = subscriptions.seek(partition, to: offset, leaderEpoch: epoch)
        buffer.drop([partition])
    }

    /// The offset a fetch of `partition` must have started at to follow on: after the data fetched ahead in
    /// this epoch, or the position.
    private func expectedOffset(_ partition: TopicPartition, epoch: UInt64) -> Int64? {
        if let chain = nextFetch[partition], chain.epoch == epoch { return chain.offset }
        return subscriptions.position(of: partition)?.next
    }

    /// The offset after the last complete batch (a response may end with part of a batch), that batch's leader
    /// epoch, and what stopped the walk early when a batch header is malformed (the reader of the records reports
    /// it when it gets there).
    static func offsetAfterCompleteBatches(_ records: ByteBuffer, from start: Int64)
        -> (next: Int64, lastEpoch: Int32?, problem: RecordBatchError?) {
        var reader = RecordBatchReader(records)
        var next = start
        var lastEpoch: Int32?
        do {
            while let batch = try reader.next() {
                next = max(next, batch.nextOffset)
                lastEpoch = batch.partitionLeaderEpoch
            }
        } catch {
            return (next, lastEpoch, error)
        }
        return (next, lastEpoch, nil)
    }

    // MARK: - Positions

    /// Looks up committed offsets and resets positions for partitions that need one, in the background. An answer
    /// is taken only if the position was not set meanwhile (a seek wins over a lookup started before it).
    private func resolvePositions() {
        let now = NIODeadline.now()
        let needs = subscriptions.partitionsNeedingPositions.filter { entry in
            !resolving.contains(entry.partition) && entry.need != .awaitingSeek && (backoffUntil[entry.partition].map { $0 <= now } ?? true)
        }
        guard !needs.isEmpty else { return }
        let epochs = Dictionary(needs.map { ($0.partition, $0.epoch) }, uniquingKeysWith: { first, _ in first })
        let committed = needs.filter { $0.need == .committed }.map(\.partition)
        var resets = needs.compactMap { entry -> (TopicPartition, Int64)? in
            switch entry.need {
            case .resetTo(let timestamp): (entry.partition, timestamp)
            case .reset: resetTimestamp(for: entry.partition)
            default: nil
            }
        }
        if !committed.isEmpty {
            if let committedOffsets {
                resolving.formUnion(committed)
                eventLoop.makeFutureWithTask { try await committedOffsets(committed) }.whenComplete { result in
                    self.resolving.subtract(committed)
                    switch result {
                    case .success(let offsets):
                        for partition in committed {
                            if let offset = offsets[partition], offset.offset >= 0 {
                                self.subscriptions.resolve(partition, to: offset.offset, leaderEpoch: offset.leaderEpoch ?? -1,
                                                           ifEpoch: epochs[partition]!)
                            } else {
                                self.subscriptions.requestReset(partition, to: .reset, ifEpoch: epochs[partition]!)
                            }
                        }
                    case .failure(let error):
                        self.logger.debug("committed offsets lookup failed: \(error)")
                        self.backOff(committed, for: self.configuration.client.retryBackoffMax.timeAmount)
                        if case KafkaConsumerError.broker(let code, _) = error, !code.isRetriable {
                            self.report(error as! KafkaConsumerError, code: code, for: committed)
                        }
                    }
                    self.wakeup()
                }
            } else {
                for partition in committed { subscriptions.requestReset(partition, to: .reset, ifEpoch: epochs[partition]!) }
                resets += committed.compactMap(resetTimestamp)
            }
        }
        guard !resets.isEmpty else { return }
        let metadata = cluster.metadata
        var byNode: [Int32: [(TopicPartition, Int64)]] = [:]
        for (partition, timestamp) in resets {
            guard let leader = metadata.leader(of: partition.topic, partition: partition.partition) else {
                refreshMetadata([partition.topic])
                continue
            }
            byNode[leader, default: []].append((partition, timestamp))
        }
        for (node, wanted) in byNode {
            let partitions = wanted.map(\.0)
            resolving.formUnion(partitions)
            listOffsets(node: node, wanted).whenComplete { result in
                self.resolving.subtract(partitions)
                switch result {
                case .success(let answers):
                    for partition in partitions {
                        switch answers[partition] {
                        case .offset(let offset)?:
                            self.subscriptions.resolve(partition, to: offset, ifEpoch: epochs[partition]!)
                            self.logger.debug("\(partition): position reset to \(offset)")
                        case .error(let code)?:
                            self.backOff([partition])
                            if code.isRetriable {
                                // Most likely a leader that moved: look again before retrying.
                                self.cluster.invalidateMetadata()
                            } else {
                                self.report(.broker(code, context: "ListOffsets for \(partition)"), code: code, for: [partition])
                            }
                        case nil:
                            self.backOff([partition])
                        }
                    }
                case .failure(let error):
                    self.logger.debug("ListOffsets to node \(node) failed: \(error)")
                    self.backOff(partitions)
                    self.cluster.invalidateMetadata()
                }
                self.wakeup()
            }
        }
    }

    /// The ListOffsets timestamp `auto.offset.reset` asks for, or nil (after reporting) when it is `none`.
    private func resetTimestamp(for partition: TopicPartition) -> (TopicPartition, Int64)? {
        switch configuration.autoOffsetReset {
        case .earliest: return (partition, -2)
        case .latest: return (partition, -1)
        case .none:
            subscriptions.requestReset(partition, to: .awaitingSeek)
            buffer.add(.noOffset(partition))
            return nil
        }
    }

    private enum ListOffsetsAnswer {
        case offset(Int64)
        case error(KafkaErrorCode)
    }

    private func listOffsets(node: Int32, _ wanted: [(TopicPartition, Int64)]) -> EventLoopFuture<[TopicPartition: ListOffsetsAnswer]> {
        var topics: [String: [ListOffsetsRequest.ListOffsetsPartition]] = [:]
        for (partition, timestamp) in wanted {
            topics[partition.topic, default: []].append(.init(partitionIndex: partition.partition, timestamp: timestamp))
        }
        let request = ListOffsetsRequest(replicaId: -1, isolationLevel: configuration.isolationLevel.rawValue,
                                         topics: topics.keys.sorted().map { .init(name: $0, partitions: topics[$0]!) })
        return cluster.connection(to: node).flatMap { $0.sendRequest(request) }.hop(to: eventLoop).map { response in
            var answers: [TopicPartition: ListOffsetsAnswer] = [:]
            for topic in response.topics {
                for partition in topic.partitions {
                    let key = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                    answers[key] = partition.errorCode == 0 && partition.offset >= 0
                        ? .offset(partition.offset)
                        : .error(KafkaErrorCode(rawValue: partition.errorCode))
                }
            }
            return answers
        }
    }
}
