import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

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
    public let configuration: ProducerConfiguration
    private let cluster: ClusterClient
    private let accumulator: RecordAccumulator
    private let memory: MemoryPool
    private let sender: Sender
    private let logger: Logger
    private let events: AsyncStream<ProducerEvent>.Continuation?
    private let state = NIOLockedValueBox(LifecycleState.open)

    private enum LifecycleState { case open, closing, closed }

    /// Signals the caller needs a new batch's memory before appending (internal to `send`).
    private struct NeedsMemory: Error {
        var bytes: Int
    }

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
        let (stream, continuation) = AsyncStream.makeStream(of: ProducerEvent.self)
        let producer = try KafkaProducer(configuration: configuration, eventLoopGroup: eventLoopGroup, logger: logger,
                                         events: continuation)
        return (producer, ProducerEvents(stream: stream))
    }

    private init(configuration: ProducerConfiguration, eventLoopGroup: any EventLoopGroup, logger: Logger,
                 events: AsyncStream<ProducerEvent>.Continuation?) throws(KafkaProducerError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        self.events = events
        cluster = ClusterClient(configuration: configuration.client, eventLoopGroup: eventLoopGroup, logger: logger)
        accumulator = RecordAccumulator(configuration: configuration)
        memory = MemoryPool(capacity: configuration.bufferMemory)
        sender = Sender(eventLoop: eventLoopGroup.next(), cluster: cluster, accumulator: accumulator, memory: memory,
                        configuration: configuration, events: events, logger: logger)
        sender.wakeup()
    }

    // MARK: - Sending

    /// Queues a record and returns its id once it is in a batch. Its outcome arrives in the delivery reports.
    ///
    /// Runs on the caller's executor (`nonisolated(nonsending)`): a loop on an actor pays no executor hop per
    /// record.
    @discardableResult
    nonisolated(nonsending)
    public func enqueue(_ record: ProducerRecord) async throws(KafkaProducerError) -> ProducerRecordID {
        let (partition, timestamp, size) = try await prepare(record)
        var reservation: Int?
        while true {
            let (result, wake) = accumulator.append(record, partition: partition, timestamp: timestamp, recordSize: size,
                                                    reservation: reservation, waiter: nil, now: .now())
            if wake { sender.wakeup() }
            switch result {
            case .appended(let id, let usedReservation):
                if let reservation, !usedReservation { memory.release(reservation) }
                return id
            case .needsBatch(let bytes):
                if let reservation { memory.release(reservation) }
                try await memory.reserve(bytes, timeout: configuration.maxBlock, eventLoop: sender.eventLoop)
                reservation = bytes
            case .closed:
                if let reservation { memory.release(reservation) }
                throw .producerClosed
            }
        }
    }

    /// Queues a record and waits until the broker has it (per `acks`).
    nonisolated(nonsending)
    public func send(_ record: ProducerRecord) async throws(KafkaProducerError) -> RecordMetadata {
        let (partition, timestamp, size) = try await prepare(record)
        var reservation: Int?
        while true {
            do {
                return try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<RecordMetadata, any Error>) in
                    let (result, wake) = accumulator.append(record, partition: partition, timestamp: timestamp, recordSize: size,
                                                            reservation: reservation, waiter: waiter, now: .now())
                    if wake { sender.wakeup() }
                    switch result {
                    case .appended(_, let usedReservation):
                        if let reservation, !usedReservation { memory.release(reservation) }
                    case .needsBatch(let bytes):
                        if let reservation { memory.release(reservation) }
                        waiter.resume(throwing: NeedsMemory(bytes: bytes))
                    case .closed:
                        if let reservation { memory.release(reservation) }
                        waiter.resume(throwing: KafkaProducerError.producerClosed)
                    }
                }
            } catch let needed as NeedsMemory {
                try await memory.reserve(needed.bytes, timeout: configuration.maxBlock, eventLoop: sender.eventLoop)
                reservation = needed.bytes
            } catch let error as KafkaProducerError {
                throw error
            } catch {
                throw .producerClosed
            }
        }
    }

    /// Checks the record's size, waits for the topic's metadata if needed, and picks its partition.
    nonisolated(nonsending)
    private func prepare(_ record: ProducerRecord) async throws(KafkaProducerError) -> (partition: Int32, timestamp: Int64, size: Int) {
        guard state.withLockedValue({ $0 == .open }) else { throw .producerClosed }
        let size = RecordBatchBuilder.encodedSize(keyLength: record.key?.kafkaByteCount, valueLength: record.value?.kafkaByteCount,
                                                  headers: record.headers, timestampDelta: Int64(Int32.max), offsetDelta: Int32.max)
        let batchBytes = size + RecordBatchLayout.headerSize
        guard batchBytes <= configuration.maxRequestSize else {
            throw .recordTooLarge(bytes: batchBytes, limit: configuration.maxRequestSize, setting: "max.request.size")
        }
        guard batchBytes <= configuration.bufferMemory else {
            throw .recordTooLarge(bytes: batchBytes, limit: configuration.bufferMemory, setting: "buffer.memory")
        }
        let count = try await partitionCount(of: record.topic)
        let partition: Int32
        if let explicit = record.partition {
            guard explicit >= 0, explicit < count else {
                throw .invalidPartition(topic: record.topic, partition: explicit, partitionCount: count)
            }
            partition = explicit
        } else {
            partition = accumulator.partition(for: record, partitionCount: count)
        }
        return (partition, record.timestamp ?? Self.nowMilliseconds(), size)
    }

    /// The topic's partition count from the metadata, fetching it (up to `max.block.ms`) the first time.
    nonisolated(nonsending)
    private func partitionCount(of topic: String) async throws(KafkaProducerError) -> Int32 {
        if let known = cluster.metadata.topics[topic], known.error == .none, !known.partitions.isEmpty {
            return Int32(known.partitions.count)
        }
        cluster.track([topic])
        let deadline = NIODeadline.now() + configuration.maxBlock
        var attempt = 0
        while NIODeadline.now() < deadline {
            if let metadata = try? await cluster.refreshMetadata(adding: [topic]).get(), let known = metadata.topics[topic] {
                if known.error == .none, !known.partitions.isEmpty { return Int32(known.partitions.count) }
                if known.error == .topicAuthorizationFailed || known.error == .invalidTopicException {
                    throw .broker(known.error, topic: topic, partition: -1)
                }
            }
            guard state.withLockedValue({ $0 == .open }) else { throw .producerClosed }
            let pause = min(ExponentialBackoff(initial: configuration.client.retryBackoff, maximum: configuration.client.retryBackoffMax)
                                .delay(attempt: attempt), deadline - .now())
            attempt += 1
            if pause > .zero { try? await Task.sleep(nanoseconds: UInt64(pause.nanoseconds)) }
        }
        throw .unknownTopic(topic)
    }

    static func nowMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    // MARK: - Flushing and closing

    /// Sends everything queued now without lingering, and waits until each of those records has its outcome.
    public func flush() async {
        await accumulator.flush { sender.wakeup() }
    }

    /// Sends what is queued (within `delivery.timeout.ms`), then closes connections. Records queued afterwards
    /// fail with ``KafkaProducerError/producerClosed``.
    public func shutdown() async {
        let proceed = state.withLockedValue { state -> Bool in
            guard state == .open else { return false }
            state = .closing
            return true
        }
        guard proceed else { return }
        await flush()
        accumulator.close()
        memory.failWaiters()
        sender.abandonQueued()
        sender.stop()
        // Let the sender finish the reports it is emitting before the stream ends.
        try? await sender.eventLoop.submit {}.get()
        events?.finish()
        await cluster.close()
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
    public typealias Element = ProducerEvent
    let stream: AsyncStream<ProducerEvent>

    public func makeAsyncIterator() -> AsyncStream<ProducerEvent>.Iterator {
        stream.makeAsyncIterator()
    }
}

#if canImport(Glibc)
import Glibc
#endif
