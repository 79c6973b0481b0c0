import KafkaCompression
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Tracing

/// A Kafka consumer: pulls records from the leaders of its partitions, in a group (``subscribe(topics:)``) or
/// on its own (``assign(_:)``).
///
/// ```swift
/// var configuration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092", groupId: "billing")
/// configuration.autoOffsetReset = .earliest
/// let consumer = try KafkaConsumer(configuration: configuration)
/// try consumer.subscribe(topics: ["orders"])
/// for try await record in consumer.records {
///     handle(record)                   // positions move as records are handed out
/// }                                    // auto-commit commits them; or call commit()
/// ```
///
/// Records come one at a time (``records``) or a fetched partition at a time (``batches``); key, value and
/// headers are slices of the fetched bytes. One task should read records at a time. Rebalances are announced on
/// ``rebalanceEvents``. `close()` commits (with auto-commit) and leaves the group. As a swift-service-lifecycle
/// `Service`, `run()` keeps it until graceful shutdown, then closes it.
public final class KafkaConsumer: Service, Sendable {
    /// The settings it was made with.
    public let configuration: ConsumerConfiguration
    let cluster: ClusterClient
    private let subscriptions = SubscriptionState()
    private let buffer = FetchBuffer()
    private let fetcher: Fetcher
    let group: ConsumerGroup?
    private let logger: Logger
    private let eventStream: AsyncStream<RebalanceEvent>
    private let eventContinuation: AsyncStream<RebalanceEvent>.Continuation
    private let closed = NIOLockedValueBox(false)
    private let metrics: ConsumerMetrics
    private let readerExecutor: EventLoopTaskExecutor
    /// The tracer records are traced with; nil when nothing is traced.
    private let tracer: (any Tracer)?
    /// The latest `commitAsync`: each waits for the one before, so async commits complete in the order they were
    /// made and an older one never overwrites a newer one (as in the Java client).
    private let lastAsyncCommit = NIOLockedValueBox<Task<Void, Never>?>(nil)
    /// Set by ``wakeup()``, taken by the next wait for records.
    private let wakeupPending = Atomic<Bool>(false)
    /// What ``poll(timeout:)`` keeps between calls (taken out while a poll runs).
    private let pollState = NIOLockedValueBox<PollState?>(nil)

    /// Makes a consumer; it connects when first used. Throws ``KafkaConsumerError/invalidConfiguration(_:)`` for
    /// contradictory settings.
    public init(
        configuration: ConsumerConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "kafka-consumer")
    ) throws(KafkaConsumerError) {
        try configuration.validate()
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "kafka.client_id"] = "\(configuration.client.clientId)"
        self.logger = logger
        metrics = ConsumerMetrics(clientId: configuration.client.clientId, factory: configuration.client.metrics)
        tracer = configuration.client.activeTracer
        let metrics = self.metrics
        cluster = ClusterClient(configuration: configuration.client, eventLoopGroup: eventLoopGroup, logger: logger)
        (eventStream, eventContinuation) = AsyncStream.makeStream(of: RebalanceEvent.self)
        let fetcherLoop = cluster.eventLoop
        readerExecutor = EventLoopTaskExecutor(fetcherLoop)
        // The group needs the fetcher's wake-up, and the fetcher the group's committed offsets: tie the knot
        // through a box set once both exist.
        let fetcherBox = NIOLockedValueBox<Fetcher?>(nil)
        if let groupId = configuration.groupId {
            group = ConsumerGroup(groupId: groupId, configuration: configuration, cluster: cluster, subscriptions: subscriptions,
                                  buffer: buffer, wakeFetcher: { fetcherBox.withLockedValue { $0 }?.wakeup() },
                                  events: eventContinuation, logger: logger, metrics: metrics)
        } else {
            group = nil
        }
        let committed: (@Sendable ([TopicPartition]) async throws -> [TopicPartition: OffsetAndMetadata])?
        if let group = self.group {
            committed = { partitions in try await group.committed(partitions) }
        } else {
            committed = nil
        }
        fetcher = Fetcher(eventLoop: fetcherLoop, cluster: cluster, subscriptions: subscriptions, buffer: buffer,
                          configuration: configuration, logger: logger, metrics: metrics, committedOffsets: committed)
        fetcherBox.withLockedValue { $0 = fetcher }
    }

    /// The executor of the consumer's network work: its client's event loop, where fetched data arrives.
    ///
    /// A task that reads records with this as its preference (`Task(executorPreference: consumer.executor)`) is
    /// handed each fetch's records on the thread that received them, with no thread woken in between: the shortest
    /// path from the broker to the application (Java's consumer, which does its network reads inside `poll`, has no
    /// hand-off either). The reading then shares that thread with the consumer's network I/O and its group's
    /// heartbeats, so it must not block; an application that does heavy work per record, or wants the most
    /// throughput of small records (the next fetch received while it reads the last), reads on Swift's pool, the
    /// default.
    public var executor: any TaskExecutor { readerExecutor }

    // MARK: - What to read

    /// Joins the group (`group.id`) to consume `topics`; partitions are assigned by the group's leader.
    public func subscribe(topics: [String]) throws(KafkaConsumerError) {
        guard let group else { throw .noGroup }
        try checkOpen()
        try subscriptions.setMode(.subscribed(Set(topics)))
        cluster.track(topics)
        Task(executorPreference: group.loopExecutor) { await group.subscriptionChanged() }
    }

    /// Consumes exactly these partitions, without group management (offsets may still be committed to
    /// `group.id` as "simple" commits, and are looked up there first).
    ///
    /// With auto-commit, what the application has processed of the partitions given up is committed in the
    /// background first (the Java client commits the old assignment), so they do not lose their progress.
    public func assign(_ partitions: [TopicPartition]) throws(KafkaConsumerError) {
        try checkOpen()
        try subscriptions.setMode(.assigned)
        let current = subscriptions.assignedPartitions
        let wanted = Set(partitions)
        if group != nil && configuration.enableAutoCommit {
            // Only those given up: the auto-commit loop goes on committing the others, and an older offset sent
            // after its newer one would take it back.
            let removed = current.subtracting(wanted)
            let offsets = subscriptions.committableOffsets(processedOnly: true).filter { removed.contains($0.key) }
            if !offsets.isEmpty { enqueueAsyncCommit(offsets) { _ in } }
        }
        subscriptions.remove(current.subtracting(wanted))
        buffer.drop(current.subtracting(wanted))
        subscriptions.add(wanted.subtracting(current), lookupCommitted: group != nil)
        cluster.track(Set(partitions.map(\.topic)))
        fetcher.wakeup()
        if let group { Task(executorPreference: group.loopExecutor) { await group.assignmentChanged() } }
    }

    /// Gives up the subscription (leaving the group, after committing with auto-commit) or the manual
    /// assignment; the consumer may then `subscribe` or `assign` again.
    public func unsubscribe() async {
        if let group, case .subscribed = subscriptions.mode { await group.unsubscribe() }
        let all = subscriptions.assignedPartitions
        subscriptions.remove(all)
        buffer.drop(all)
        try? subscriptions.setMode(.none)
        cluster.track([])
    }

    /// The partitions currently assigned to this consumer.
    public var assignment: Set<TopicPartition> { subscriptions.assignedPartitions }

    // MARK: - Reading

    /// Records, one at a time, until the consumer closes.
    public var records: ConsumerRecords { ConsumerRecords(consumer: self) }

    /// Records a fetched partition at a time (better throughput than ``records``).
    public var batches: ConsumerBatches { ConsumerBatches(consumer: self) }

    /// Assignment changes in the group.
    public var rebalanceEvents: AsyncStream<RebalanceEvent> { eventStream }

    /// Up to `max.poll.records` records, waiting at most `timeout` for the first; empty when none came in time
    /// (Java's `poll(Duration)`). The records of the previous call count as processed (what auto-commit commits).
    ///
    /// For loops that want a timeout; ``records`` and ``batches`` are the same records as async sequences. Records
    /// already fetched are returned without waiting, from as many partitions as it takes to fill the call.
    public func poll(timeout: Duration) async throws(KafkaConsumerError) -> [ConsumerRecord] {
        try checkOpen()
        let deadline = ContinuousClock.now + timeout
        let state = pollState.withLockedValue { state in defer { state = nil }; return state } ?? PollState()
        defer { pollState.withLockedValue { $0 = state } }
        for reader in state.handedOut { reader.markAllProcessed() }
        state.handedOut.removeAll(keepingCapacity: true)
        let limit = max(1, configuration.maxPollRecords)
        var records: [ConsumerRecord] = []
        while records.count < limit {
            if let reader = state.reader {
                do {
                    while records.count < limit, let record = try reader.next() { records.append(record) }
                } catch {
                    state.reader = nil
                    // Records before the failure go out first; the error comes with the next call.
                    if records.isEmpty { throw error }
                    state.deferred = error
                    return records
                }
                if records.count >= limit { break }
                state.reader = nil
            }
            if let error = state.deferred {
                state.deferred = nil
                throw error
            }
            // Wait only for the first records; after that take what is already fetched.
            guard let next = try await nextReader(workspace: state.workspace, deadline: records.isEmpty ? deadline : .now) else { break }
            state.reader = next
            state.handedOut.append(next)
        }
        return records
    }

    /// The next fetched partition to read (nil once closed, or when the reading task is cancelled), skipping
    /// fetches made stale by seeks or rebalances.
    /// With a `deadline`, nil also once it has passed. ``wakeup()`` makes it throw ``KafkaConsumerError/wokenUp``.
    nonisolated(nonsending) func nextReader(workspace: CompressionWorkspace,
                                            deadline: ContinuousClock.Instant? = nil) async throws(KafkaConsumerError) -> PartitionReader? {
        while true {
            if let group { await group.polled() }
            if closed.withLockedValue({ $0 }) || Task.isCancelled { return nil }
            if wakeupPending.exchange(false, ordering: .relaxed) { throw .wokenUp }
            guard let entry = await buffer.next(deadline: deadline) else {
                if buffer.isClosed { return nil }
                if let deadline, deadline <= .now { return nil }
                continue
            }
            switch entry {
            case .failure(let error):
                throw error
            case .fetch(let fetch):
                guard subscriptions.isCurrent(fetch.partition, epoch: fetch.epoch),
                      let position = subscriptions.position(of: fetch.partition), position.next == fetch.fetchOffset
                else {
                    buffer.release(fetch)
                    // Still current but not where the position is: an earlier reader stopped part-way, so the
                    // fetched-ahead data does not follow on. Fetch again from the position.
                    if subscriptions.isCurrent(fetch.partition, epoch: fetch.epoch) { resync(fetch.partition) }
                    fetcher.wakeup()
                    continue
                }
                let buffer = self.buffer
                let fetcher = self.fetcher
                let metrics = self.metrics
                return PartitionReader(fetch, position: position, workspace: workspace, checkCRCs: configuration.checkCRCs,
                                       maxDecompressedBytes: configuration.maxDecompressedBatchBytes,
                                       readCommitted: configuration.isolationLevel == .readCommitted, tracer: tracer,
                                       clientId: configuration.client.clientId) { [weak self] fetch, complete, handedOut in
                    metrics.recordsConsumed.increment(by: handedOut)
                    if let self, let lag = self.subscriptions.lag(of: fetch.partition) { metrics.recordLag(lag, of: fetch.partition) }
                    buffer.release(fetch)
                    if !complete { self?.resync(fetch.partition) }
                    fetcher.wakeup()
                }
            }
        }
    }

    /// Starts a partition's fetching again from its position, discarding data fetched ahead.
    private func resync(_ partition: TopicPartition) {
        subscriptions.resync(partition)
        buffer.drop([partition])
    }

    // MARK: - Positions

    /// The offset of the next record to be handed out for `partition`; nil when it is not assigned, or while its
    /// position is still being looked up (committed offset, `auto.offset.reset`).
    public func position(_ partition: TopicPartition) -> Int64? {
        guard let next = subscriptions.position(of: partition)?.next, next >= 0 else { return nil }
        return next
    }

    /// Continues `partition` from `offset`.
    public func seek(_ partition: TopicPartition, to offset: Int64) throws(KafkaConsumerError) {
        guard subscriptions.seek(partition, to: offset) else { throw .notAssigned(partition) }
        buffer.drop([partition])
        fetcher.wakeup()
    }

    /// Continues from the log start of each partition.
    public func seekToBeginning(_ partitions: [TopicPartition]) throws(KafkaConsumerError) {
        try reset(partitions, to: .resetTo(-2))
    }

    /// Continues from the end of each partition (only new records).
    public func seekToEnd(_ partitions: [TopicPartition]) throws(KafkaConsumerError) {
        try reset(partitions, to: .resetTo(-1))
    }

    private func reset(_ partitions: [TopicPartition], to need: SubscriptionState.PositionNeed) throws(KafkaConsumerError) {
        if let missing = partitions.first(where: { !subscriptions.contains($0) }) { throw .notAssigned(missing) }
        for partition in partitions { subscriptions.requestReset(partition, to: need) }
        buffer.drop(Set(partitions))
        fetcher.wakeup()
    }

    /// Stops fetching these partitions until ``resume(_:)``; their positions stay. A record iteration in progress
    /// over one of them stops at its next record.
    public func pause(_ partitions: [TopicPartition]) throws(KafkaConsumerError) {
        guard subscriptions.setPaused(partitions, true) else { throw .notAssigned(unassigned(partitions)) }
        buffer.drop(Set(partitions))
    }

    /// Fetches these paused partitions again, from their positions.
    public func resume(_ partitions: [TopicPartition]) throws(KafkaConsumerError) {
        guard subscriptions.setPaused(partitions, false) else { throw .notAssigned(unassigned(partitions)) }
        fetcher.wakeup()
    }

    private func unassigned(_ partitions: [TopicPartition]) -> TopicPartition {
        partitions.first { !subscriptions.contains($0) } ?? partitions[0]
    }

    /// The partitions paused with ``pause(_:)``.
    public var paused: Set<TopicPartition> { subscriptions.pausedPartitions }

    /// Bytes of fetched records held for the application (queued or being read). Read-ahead stops at about two
    /// `max.partition.fetch.bytes` per partition and `fetch.max.bytes` in all, so a slow application cannot make
    /// this grow without bound.
    public var bufferedBytes: Int { buffer.bufferedBytes }

    /// How far behind the partition's high watermark the position is, once a fetch has told.
    public func lag(_ partition: TopicPartition) -> Int64? { subscriptions.lag(of: partition) }

    // MARK: - Committing

    /// Commits the positions of every assigned partition (the records handed out so far: the application declares
    /// them processed) and waits.
    public func commit() async throws(KafkaConsumerError) {
        subscriptions.markAllProcessed()
        try await commit(offsets: subscriptions.committableOffsets(processedOnly: false))
    }

    /// Commits these offsets (each the next offset to read) and waits.
    public func commit(offsets: [TopicPartition: OffsetAndMetadata]) async throws(KafkaConsumerError) {
        guard let group else { throw .noGroup }
        try await group.commit(offsets)
    }

    /// Commits the current positions in the background; `completion` gets the outcome. Async commits complete
    /// in the order they were made.
    public func commitAsync(_ completion: @escaping @Sendable (Result<Void, KafkaConsumerError>) -> Void = { _ in }) {
        subscriptions.markAllProcessed()
        enqueueAsyncCommit(subscriptions.committableOffsets(processedOnly: false), completion)
    }

    /// Commits `offsets` after every async commit made before (close waits for the last one).
    private func enqueueAsyncCommit(_ offsets: [TopicPartition: OffsetAndMetadata],
                                    _ completion: @escaping @Sendable (Result<Void, KafkaConsumerError>) -> Void) {
        lastAsyncCommit.withLockedValue { last in
            let previous = last
            last = Task {
                await previous?.value
                do throws(KafkaConsumerError) {
                    try await commit(offsets: offsets)
                    completion(.success(()))
                } catch {
                    completion(.failure(error))
                }
            }
        }
    }

    // MARK: - Closing

    private func checkOpen() throws(KafkaConsumerError) {
        if closed.withLockedValue({ $0 }) { throw .closed }
    }

    /// Closes the consumer as ``close(timeout:commitOffsets:)`` does, within 30 seconds (Java's default).
    public func close() async {
        await close(timeout: .seconds(30))
    }

    /// Waits for async commits, commits what was handed out (with auto-commit, unless `commitOffsets` is false),
    /// leaves the group, stops fetching and closes connections. Iterations of ``records`` and ``batches`` end.
    ///
    /// The commit and the LeaveGroup get `timeout` in all; past it the connections are closed anyway (the group
    /// then notices the member's absence after `session.timeout.ms`). Pass `commitOffsets: false` to leave without
    /// committing, for example after a failure that means the records handed out were not processed.
    public func close(timeout: Duration, commitOffsets: Bool = true) async {
        guard !closed.withLockedValue({ state in defer { state = true }; return state }) else { return }
        buffer.wake()
        let group = self.group
        let lastAsyncCommit = self.lastAsyncCommit.withLockedValue { $0 }
        let logger = self.logger
        let leaving = Task {
            // Async commits made before closing finish first (each is bounded by the request timeout).
            await lastAsyncCommit?.value
            if let group { await group.close(commit: commitOffsets) }
        }
        if await !leaving.finished(within: timeout) {
            logger.warning("closing: commit and leave did not finish within \(timeout); closing the connections")
        }
        fetcher.stop()
        buffer.close()
        eventContinuation.finish()
        await cluster.close()
        logger.debug("consumer closed")
    }

    /// Interrupts a ``poll(timeout:)`` or a record iteration waiting for records: it throws
    /// ``KafkaConsumerError/wokenUp``. When nothing is waiting, the next wait throws (Java's `wakeup()`). Safe to
    /// call from any task.
    public func wakeup() {
        wakeupPending.store(true, ordering: .relaxed)
        buffer.wake()
    }

    /// Runs until graceful shutdown (or cancellation), then closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }
}

/// ``KafkaConsumer/records``: one record at a time.
///
/// The iterator runs on the caller's isolation (`next(isolation:)`), so taking a record from an already fetched
/// partition costs no executor hop; only waiting for the next fetch suspends. Asking for the next record marks
/// the ones handed out before as processed (what auto-commit commits).
public struct ConsumerRecords: AsyncSequence, Sendable {
    /// One record.
    public typealias Element = ConsumerRecord
    /// What iterating throws.
    public typealias Failure = KafkaConsumerError
    let consumer: KafkaConsumer

    /// An iterator over the consumer's records; one task should iterate at a time.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }

    /// Hands out records; keeps the fetched partition it is reading.
    public struct AsyncIterator: AsyncIteratorProtocol {
        @usableFromInline let consumer: KafkaConsumer
        @usableFromInline var reader: PartitionReader?
        @usableFromInline let workspace = CompressionWorkspace()

        init(consumer: KafkaConsumer) {
            self.consumer = consumer
        }

        /// The next record; runs on the caller's actor, so an iterator kept in a main-actor (or any actor's)
        /// variable can be advanced by hand.
        @inlinable
        public nonisolated(nonsending) mutating func next() async throws(KafkaConsumerError) -> ConsumerRecord? {
            try await next(isolation: #isolation)
        }

        /// A record from the fetched partition being read is handed out without an async call (this is inlined
        /// into the loop); only moving to the next fetched partition, or waiting for one, is.
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(KafkaConsumerError) -> ConsumerRecord? {
            if let record = try nextFetched() { return record }
            return try await nextFromNextFetch(isolation: actor)
        }

        /// The next record of the partition being read; nil when it is used up (or the reading task is cancelled:
        /// cancellation takes effect at the next record).
        @usableFromInline
        mutating func nextFetched() throws(KafkaConsumerError) -> ConsumerRecord? {
            guard let current = reader, !Task.isCancelled else { return nil }
            do {
                return try current.next()
            } catch {
                reader = nil // releases the partition's data
                throw error
            }
        }

        @usableFromInline
        mutating func nextFromNextFetch(isolation actor: isolated (any Actor)?) async throws(KafkaConsumerError) -> ConsumerRecord? {
            while true {
                if let current = reader {
                    // The application asked for more after everything this reader handed out.
                    current.markAllProcessed()
                    reader = nil
                }
                if Task.isCancelled { return nil }
                guard let next = try await consumer.nextReader(workspace: workspace) else { return nil }
                reader = next
                if let record = try nextFetched() { return record }
            }
        }
    }
}

/// ``KafkaConsumer/batches``: the records of one fetched partition at a time. Asking for the next batch marks
/// the previous one as processed (what auto-commit commits).
public struct ConsumerBatches: AsyncSequence, Sendable {
    /// The records of one fetched partition.
    public typealias Element = [ConsumerRecord]
    /// What iterating throws.
    public typealias Failure = KafkaConsumerError
    let consumer: KafkaConsumer

    /// An iterator over the consumer's fetched partitions; one task should iterate at a time.
    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }

    /// Hands out a fetched partition's records at a time.
    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        let workspace = CompressionWorkspace()
        /// The reader of the batch handed out last; it holds the fetched bytes the records are slices of.
        var previous: PartitionReader?
        /// An error met after the records handed out with it: thrown at the next call.
        var deferred: KafkaConsumerError?

        /// The next fetched partition's records; runs on the caller's actor.
        public nonisolated(nonsending) mutating func next() async throws(KafkaConsumerError) -> [ConsumerRecord]? {
            try await next(isolation: #isolation)
        }

        /// The next fetched partition's records, running on `actor`; nil once the consumer is closed.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(KafkaConsumerError) -> [ConsumerRecord]? {
            previous?.markAllProcessed()
            previous = nil
            if let error = deferred {
                deferred = nil
                throw error
            }
            while true {
                guard let reader = try await consumer.nextReader(workspace: workspace) else { return nil }
                let (records, error) = reader.readAll()
                if records.isEmpty, let error { throw error }
                guard !records.isEmpty else { continue }
                previous = reader
                deferred = error
                return records
            }
        }
    }
}
