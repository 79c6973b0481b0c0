import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import Tracing

/// A Kafka producer: records go into per-partition batches that are sent in the background, one request per
/// broker carrying every ready batch.
///
/// ```swift
/// let producer = try KafkaProducer(configuration: .init(bootstrapServers: "127.0.0.1:9092"))
/// let metadata = try await producer.send(ProducerRecord(topic: "orders", key: "order-1", value: "{...}"))
/// // or, without waiting for the broker per record:
/// let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: configuration)
/// let id = try await producer.enqueue(ProducerRecord(topic: "orders", value: "{...}"))
/// for await case .deliveryReports(let reports) in events { ... }
/// await producer.shutdown()                                   // sends what is queued, then closes
/// ```
///
/// `send` and `enqueue` suspend only to wait for a topic's metadata (the first record of a topic) or for room
/// in `buffer.memory`; never for a network round trip per record. Every record gets exactly one outcome.
/// As a swift-service-lifecycle `Service`, `run()` keeps it until graceful shutdown, then flushes and closes.
public final class KafkaProducer: Service, Sendable {
    /// The settings it was made with.
    public let configuration: ProducerConfiguration
    let cluster: ClusterClient
    private let accumulator: RecordAccumulator
    private let memory: MemoryPool
    private let sender: Sender
    private let logger: Logger
    private let events: ProducerEventQueue?
    private let state = NIOLockedValueBox(LifecycleState.open)
    /// Set when `partitioner` is `.custom` (read per record, so not taken out of the configuration each time).
    private let customPartitioner: (any Partitioner)?
    /// `customPartitioner != nil`, which is cheaper to test per record than the existential.
    private let hasCustomPartitioner: Bool
    /// The tracer records are traced with; nil when nothing is traced.
    private let tracer: (any Tracer)?
    private let tracing: Bool

    private enum LifecycleState { case open, closing, closed }

    /// Creates a producer that reports outcomes only to callers of ``send(_:)``.
    public convenience init(
        configuration: ProducerConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "kafka-producer")
    ) throws(KafkaProducerError) {
        try self.init(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger, events: nil)
    }

    /// Creates a producer and the sequence of its delivery reports (one element per completed batch).
    public static func makeWithDeliveryReports(
        configuration: ProducerConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "kafka-producer")
    ) throws(KafkaProducerError) -> (KafkaProducer, ProducerEvents) {
        let queue = ProducerEventQueue()
        let producer = try KafkaProducer(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger,
                                         events: queue)
        return (producer, ProducerEvents(queue: queue, executor: EventLoopTaskExecutor(producer.cluster.eventLoop)))
    }

    private init(configuration: ProducerConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger,
                 events: ProducerEventQueue?) throws(KafkaProducerError) {
        try configuration.validate()
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "kafka.client_id"] = "\(configuration.client.clientId)"
        self.logger = logger
        self.events = events
        customPartitioner = if case .custom(let custom) = configuration.partitioner { custom } else { nil }
        hasCustomPartitioner = customPartitioner != nil
        tracer = configuration.client.activeTracer
        tracing = tracer != nil
        cluster = ClusterClient(configuration: configuration.client, eventLoopGroup: eventLoopGroup, logger: logger)
        memory = MemoryPool(capacity: configuration.bufferMemory, pooledBufferSize: configuration.batchLimit)
        accumulator = RecordAccumulator(configuration: configuration, memory: memory)
        sender = Sender(eventLoop: cluster.eventLoop, cluster: cluster, accumulator: accumulator, memory: memory,
                        configuration: configuration, events: events, logger: logger)
        sender.wakeup()
    }

    // MARK: - Sending

    /// Queues a record and returns its id once it is in a batch. Its outcome arrives in the delivery reports.
    ///
    /// Runs on the caller's executor (`nonisolated(nonsending)`). Once the topic's metadata is known and
    /// `buffer.memory` has room it does not suspend at all: one lock, no executor hop, no allocation beyond the
    /// batch's (it is inlined into the caller, so not even an async call frame).
    @inlinable
    @discardableResult
    nonisolated(nonsending)
    public func enqueue(_ record: ProducerRecord) async throws(KafkaProducerError) -> ProducerRecordID {
        if let id = try enqueueWithoutWaiting(record) { return id }
        return try await enqueueWaiting(record)
    }

    /// `enqueue` when nothing needs waiting for; nil when something does (the topic's metadata, memory, a custom
    /// partitioner that needs the partition count).
    @usableFromInline
    func enqueueWithoutWaiting(_ record: ProducerRecord) throws(KafkaProducerError) -> ProducerRecordID? {
        guard record.partition != nil || !hasCustomPartitioner else { return nil }
        // A traced record takes the other path: its span lasts until its outcome, whatever it waits for first.
        if tracing { return nil }
        let size = try checkedSize(of: record)
        let timestamp = record.timestamp ?? Self.nowMilliseconds()
        switch accumulator.append(record, placement: accumulator.placement(for: record), timestamp: timestamp, recordSize: size,
                                  reservation: nil, waiter: nil, wake: sender.notice) {
        case .appended(let id, _): return id
        case .invalidPartition(let count):
            throw .invalidPartition(topic: record.topic, partition: record.partition ?? -1, partitionCount: count)
        case .closed: throw .producerClosed
        case .needsMetadata, .needsMemory: return nil
        }
    }

    /// `enqueue` when it has to wait for metadata or memory, or traces the record.
    @usableFromInline
    nonisolated(nonsending)
    func enqueueWaiting(_ record: ProducerRecord) async throws(KafkaProducerError) -> ProducerRecordID {
        var record = record
        let span = startSpan(for: &record)
        let size: Int
        var placement: RecordAccumulator.Placement
        do {
            size = try checkedSize(of: record)
            placement = try await self.placement(for: record)
        } catch {
            if let span { RecordTracing.endSend(span, result: .failure(error)) }
            throw error
        }
        let timestamp = record.timestamp ?? Self.nowMilliseconds()
        let waiter = span.map { RecordWaiter(nil, span: $0) }
        var reservation: Int?
        while true {
            switch accumulator.append(record, placement: placement, timestamp: timestamp, recordSize: size,
                                      reservation: reservation, waiter: waiter, wake: sender.notice) {
            case .appended(let id, let usedReservation):
                if let reservation, !usedReservation { memory.release(reservation) }
                return id
            case let outcome:
                do {
                    try await handleUnappended(outcome, record: record, placement: &placement, reservation: &reservation)
                } catch {
                    if let span { RecordTracing.endSend(span, result: .failure(error)) }
                    throw error
                }
            }
        }
    }

    /// A send span for the record, its context written into the record's headers; nil when nothing is traced.
    private func startSpan(for record: inout ProducerRecord) -> (any Span)? {
        guard let tracer else { return nil }
        return RecordTracing.startSend(topic: record.topic, clientId: configuration.client.clientId, headers: &record.headers,
                                       tracer: tracer)
    }

    /// Queues a record and waits until the broker has it (per `acks`).
    nonisolated(nonsending)
    public func send(_ record: ProducerRecord) async throws(KafkaProducerError) -> RecordMetadata {
        var record = record
        let span = startSpan(for: &record)
        let size: Int
        var placement: RecordAccumulator.Placement
        do {
            size = try checkedSize(of: record)
            placement = try await self.placement(for: record)
        } catch {
            if let span { RecordTracing.endSend(span, result: .failure(error)) }
            throw error
        }
        let timestamp = record.timestamp ?? Self.nowMilliseconds()
        var reservation: Int?
        while true {
            do {
                return try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<RecordMetadata, any Error>) in
                    let outcome = accumulator.append(record, placement: placement, timestamp: timestamp, recordSize: size,
                                                     reservation: reservation, waiter: RecordWaiter(waiter, span: span),
                                                     wake: sender.notice)
                    switch outcome {
                    case .appended(_, let usedReservation):
                        if let reservation, !usedReservation { memory.release(reservation) }
                    default:
                        waiter.resume(throwing: Unappended(outcome: outcome))
                    }
                }
            } catch let unappended as Unappended {
                do {
                    try await handleUnappended(unappended.outcome, record: record, placement: &placement, reservation: &reservation)
                } catch {
                    if let span { RecordTracing.endSend(span, result: .failure(error)) }
                    throw error
                }
            } catch let error as KafkaProducerError {
                throw error
            } catch {
                throw .producerClosed
            }
        }
    }

    /// Why an append did not happen, carried through a waiter's continuation.
    private struct Unappended: Error {
        let outcome: RecordAccumulator.AppendResult
    }

    /// Does what an append that did not happen asks for (metadata, memory), or throws why it cannot happen.
    nonisolated(nonsending)
    private func handleUnappended(
        _ outcome: RecordAccumulator.AppendResult, record: ProducerRecord,
        placement: inout RecordAccumulator.Placement, reservation: inout Int?
    ) async throws(KafkaProducerError) {
        switch outcome {
        case .appended:
            return
        case .needsMetadata:
            _ = try await partitionCount(of: record.topic)
            placement = try await self.placement(for: record)
        case .invalidPartition(let count):
            if let reservation { memory.release(reservation) }
            throw .invalidPartition(topic: record.topic, partition: record.partition ?? -1, partitionCount: count)
        case .needsMemory(let bytes):
            if let held = reservation { memory.release(held) }
            reservation = nil
            try await memory.reserve(bytes, timeout: configuration.maxBlock.timeAmount, eventLoop: sender.eventLoop)
            reservation = bytes
        case .closed:
            if let reservation { memory.release(reservation) }
            throw .producerClosed
        }
    }

    /// The record's size in a batch (an upper bound), checked against `max.request.size` and `buffer.memory`.
    private func checkedSize(of record: ProducerRecord) throws(KafkaProducerError) -> Int {
        let size = RecordBatchBuilder.encodedSize(keyLength: record.keyBytes?.count, valueLength: record.valueBytes?.count,
                                                  headers: record.headers, timestampDelta: Int64(Int32.max), offsetDelta: Int32.max)
        let batchBytes = size + RecordBatchLayout.headerSize
        guard batchBytes <= configuration.maxRequestSize else {
            throw .recordTooLarge(bytes: batchBytes, limit: configuration.maxRequestSize, setting: "max.request.size")
        }
        guard batchBytes <= configuration.bufferMemory else {
            throw .recordTooLarge(bytes: batchBytes, limit: configuration.bufferMemory, setting: "buffer.memory")
        }
        return size
    }


    /// Where the partitioner puts the record. A custom partitioner needs the partition count, so it may wait for
    /// the topic's metadata; it is never called under the accumulator's lock.
    nonisolated(nonsending)
    private func placement(for record: ProducerRecord) async throws(KafkaProducerError) -> RecordAccumulator.Placement {
        guard record.partition == nil, let custom = customPartitioner else {
            return accumulator.placement(for: record)
        }
        var count = accumulator.partitionCount(of: record.topic)
        if count == 0 { count = try await partitionCount(of: record.topic) }
        let chosen = custom.partition(topic: record.topic, key: record.key, value: record.value, partitionCount: count)
        return .explicit(((chosen % count) + count) % count)
    }

    /// The topic's partition count from the metadata, fetching it (up to `max.block.ms`) when it is not known; the
    /// accumulator learns it too.
    nonisolated(nonsending)
    private func partitionCount(of topic: String) async throws(KafkaProducerError) -> Int32 {
        if let known = cluster.metadata.topics[topic], known.error == .none, !known.partitions.isEmpty {
            accumulator.updatePartitionCounts(from: cluster.metadata)
            return Int32(known.partitions.count)
        }
        cluster.track([topic])
        let deadline = NIODeadline.now() + configuration.maxBlock.timeAmount
        var attempt = 0
        var lastError: String?
        while NIODeadline.now() < deadline {
            do {
                let metadata = try await cluster.refreshMetadata(adding: [topic]).get()
                if let known = metadata.topics[topic] {
                    if known.error == .none, !known.partitions.isEmpty {
                        accumulator.updatePartitionCounts(from: metadata)
                        return Int32(known.partitions.count)
                    }
                    if known.error == .topicAuthorizationFailed || known.error == .invalidTopicException {
                        throw KafkaProducerError.broker(known.error, topic: topic, partition: -1)
                    }
                    lastError = known.error == .none ? "no partitions" : known.error.name
                }
            } catch let error as KafkaProducerError {
                throw error
            } catch {
                lastError = "\(error)"
            }
            guard !accumulator.isClosed else { throw .producerClosed }
            let pause = min(ExponentialBackoff(initial: configuration.client.retryBackoff.timeAmount, maximum: configuration.client.retryBackoffMax.timeAmount)
                                .delay(attempt: attempt), deadline - .now())
            attempt += 1
            if pause > .zero { try? await Task.sleep(nanoseconds: UInt64(pause.nanoseconds)) }
        }
        throw .unknownTopic(topic, lastError: lastError)
    }

    static func nowMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    // MARK: - Flushing and closing

    /// Sends everything queued now without lingering, and waits until each of those records has its outcome.
    ///
    /// - Throws: ``KafkaProducerError/recordsFailed(count:first:)`` when records given to ``enqueue(_:)`` of a
    ///   producer made without delivery reports failed since the last flush (with delivery reports, failures are
    ///   reported there, and `send` callers get theirs thrown).
    public func flush() async throws(KafkaProducerError) {
        await accumulator.flush { sender.wakeup() }
        if let failures = accumulator.takeUnobservedFailures() {
            throw .recordsFailed(count: failures.count, first: failures.first)
        }
    }

    /// Sends what is queued (within `delivery.timeout.ms`), then closes connections. Records queued afterwards
    /// fail with ``KafkaProducerError/producerClosed``. The delivery reports (``ProducerEvents``) end here, after
    /// the last report.
    public func shutdown() async {
        await close(within: nil)
    }

    /// Like ``shutdown()``, but sends what is queued for at most `timeout` (Java's `close(Duration)`): records
    /// still queued then fail with ``KafkaProducerError/producerClosed``, and requests still in flight with the
    /// closed connection's error. Every record gets its outcome before this returns. `close(timeout: .zero)`
    /// sends nothing more.
    public func close(timeout: Duration) async {
        await close(within: timeout)
    }

    private func close(within timeout: Duration?) async {
        let proceed = state.withLockedValue { state -> Bool in
            guard state == .open else { return false }
            state = .closing
            return true
        }
        guard proceed else { return }
        // New records are refused from here; those queued are sent without lingering.
        accumulator.close()
        // Failures of records without delivery reports were logged as they happened.
        let flushing = Task { _ = try? await self.flush() }
        if let timeout {
            if await !flushing.finished(within: timeout) {
                logger.warning("closing: records still queued after \(timeout) fail with producerClosed")
            }
        } else {
            await flushing.value
        }
        memory.failWaiters()
        sender.abandonQueued()
        sender.stop()
        // With the sender stopped, requests failed by the closing connections are not retried: their records fail.
        await cluster.close()
        sender.abandonQueued()
        if await !flushing.finished(within: configuration.client.requestTimeout) {
            logger.error("closing: some records got no outcome (a bug: please report it)")
        }
        // Let the sender finish the reports it is emitting before the stream ends.
        try? await sender.eventLoop.submit {}.get()
        events?.finish()
        state.withLockedValue { $0 = .closed }
        logger.debug("producer closed")
    }

    /// Runs until graceful shutdown (or cancellation), then flushes and closes.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}

/// The producer's events: delivery reports, a batch at a time.
public struct ProducerEvents: AsyncSequence, Sendable {
    /// One event.
    public typealias Element = ProducerEvent
    let queue: ProducerEventQueue
    let eventLoopExecutor: EventLoopTaskExecutor

    init(queue: ProducerEventQueue, executor: EventLoopTaskExecutor) {
        self.queue = queue
        eventLoopExecutor = executor
    }

    /// The executor the producer's network work runs on (its sender's event loop), where events are made.
    ///
    /// A task that reads the events with this as its preference (`Task(executorPreference: events.executor)`)
    /// gets each one without a thread of Swift's cooperative pool being woken for it: worth it at high rates,
    /// when what is done per event is brief (counting, logging, resolving a promise), as with the Java client's
    /// callbacks, which run on its I/O thread. Anything slow done there holds up sending.
    public var executor: any TaskExecutor { eventLoopExecutor }

    /// The events' iterator. The sequence has one consumer: iterate it from one task.
    public func makeAsyncIterator() -> Iterator {
        Iterator(queue: queue)
    }

    /// Reads the events in order; ends when the producer has closed (after its last event) or when the reading
    /// task is cancelled.
    public struct Iterator: AsyncIteratorProtocol {
        let queue: ProducerEventQueue
        /// Events taken from the queue together, and how many of them were returned.
        private var taken: [ProducerEvent] = []
        private var returned = 0

        init(queue: ProducerEventQueue) {
            self.queue = queue
        }

        /// The next event, or nil at the end.
        public mutating func next() async -> ProducerEvent? {
            if returned == taken.count {
                guard let more = await queue.takeAll() else { return nil }
                taken = more
                returned = 0
            }
            defer { returned += 1 }
            return taken[returned]
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
