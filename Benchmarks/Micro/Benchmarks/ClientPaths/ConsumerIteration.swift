import Benchmark
import KafkaClient
import KafkaProtocol
import MicroSupport
import MockBroker
import NIOConcurrencyHelpers
import NIOCore

/// A consumer reading 1,000 records per iteration from a 3-partition topic on a loopback MockBroker, through
/// `consumer.records` (one at a time) and `consumer.batches` (a fetched partition at a time), touching each
/// record's value. The topic is produced in setup as batches of exactly 1,000 records, and the consumer fetches
/// one batch per partition per request, so one `batches` element, like one iteration, is 1,000 records.
/// Fetching goes on in the background as in an application, so it is part of the cost: the median iteration
/// is the steady state, fetches land in some iterations. The scaling factor is the 1,000 records: metrics
/// are per record.
func consumerIterationBenchmarks() {
    // The fetches' allocations (on event-loop threads, the broker's included) fall into iterations as timing
    // has it: the median seen from 64 to 138 per 1,000 records between runs. More than 250 more fails, so an extra
    // allocation every 3 records is caught, not one per fetch.
    let configuration = MicroConfiguration.make(
        scalingFactor: .kilo, allocations: .perIteration(250), maxDuration: .seconds(5), maxIterations: ConsumerState.maxIterations
    )

    let recordsFixture = Fixture<ConsumerState>()
    Benchmark("Consumer records", configuration: configuration) { benchmark in
        guard let state = recordsFixture.state else { return benchmark.error("the consumer did not start") }
        state.watchdog.begin()
        defer { state.watchdog.end() }
        var iterator = state.records
        defer { state.records = iterator }
        var bytes = 0
        for _ in benchmark.scaledIterations {
            guard let record = try await iterator.next() else { return benchmark.error("the consumer stopped") }
            bytes &+= record.value?.readableBytes ?? 0
        }
        blackHole(bytes)
    } setup: {
        recordsFixture.state = try await ConsumerState.start()
    } teardown: {
        await recordsFixture.state?.stop()
        recordsFixture.state = nil
    }

    let batchesFixture = Fixture<ConsumerState>()
    Benchmark("Consumer batches", configuration: configuration) { benchmark in
        guard let state = batchesFixture.state else { return benchmark.error("the consumer did not start") }
        state.watchdog.begin()
        defer { state.watchdog.end() }
        var iterator = state.batches
        defer { state.batches = iterator }
        guard let batch = try await iterator.next() else { return benchmark.error("the consumer stopped") }
        var bytes = 0
        for record in batch {
            bytes &+= record.value?.readableBytes ?? 0
        }
        blackHole(bytes)
        if batch.count != benchmark.scaledIterations.count {
            benchmark.error("a fetched partition held \(batch.count) records, not \(benchmark.scaledIterations.count)")
        }
    } setup: {
        batchesFixture.state = try await ConsumerState.start()
    } teardown: {
        await batchesFixture.state?.stop()
        batchesFixture.state = nil
    }
}

final class ConsumerState {
    static let topic = "consume"
    static let partitions: Int32 = 3
    static let batchesPerPartition = 110
    /// Below the 330 batches produced, with room for the warm-up iterations: the data never runs out.
    static let maxIterations = 300

    let broker: MockBroker
    let consumer: KafkaConsumer
    let watchdog: Watchdog
    var records: ConsumerRecords.AsyncIterator
    var batches: ConsumerBatches.AsyncIterator

    private init(broker: MockBroker, consumer: KafkaConsumer) {
        self.broker = broker
        self.consumer = consumer
        records = consumer.records.makeAsyncIterator()
        batches = consumer.batches.makeAsyncIterator()
        // A lost fetch must not hang the run: after 30 s in one iteration, closing the consumer ends it.
        watchdog = Watchdog(limit: .seconds(30)) { await consumer.close() }
    }

    static func start() async throws -> ConsumerState {
        let broker = try await startLoopbackBroker()
        do {
            try broker.createTopic(topic, partitions: partitions)
            let payloads = Payloads()
            try await produce(payloads, to: broker)
            var configuration = ConsumerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.autoOffsetReset = .earliest
            configuration.enableAutoCommit = false
            // Exactly one stored batch per partition per fetch (the broker cuts at this many bytes).
            configuration.maxPartitionFetchBytes = Int32(try storedBatchSize(payloads))
            let consumer = try KafkaConsumer(configuration: configuration, logger: quietLogger)
            try consumer.assign((0..<partitions).map { TopicPartition(topic: topic, partition: $0) })
            return ConsumerState(broker: broker, consumer: consumer)
        } catch {
            try? await broker.stop()
            throw error
        }
    }

    /// Fills every partition with `batchesPerPartition` batches of the 1,000 payload records: one flush per
    /// round sends one batch per partition.
    private static func produce(_ payloads: Payloads, to broker: MockBroker) async throws {
        var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
        configuration.acks = .leader
        configuration.enableIdempotence = false
        configuration.linger = .seconds(300)
        configuration.batchSize = 256 * 1024
        let producer = try KafkaProducer(configuration: configuration, logger: quietLogger)
        for _ in 0..<batchesPerPartition {
            for partition in 0..<partitions {
                for value in payloads.values {
                    try await producer.enqueue(ProducerRecord(topic: topic, partition: partition, value: value,
                                                              timestamp: Payloads.timestamp))
                }
            }
            try? await producer.flush()
        }
        await producer.shutdown()
        let expected = Int64(batchesPerPartition * payloads.values.count)
        for partition in 0..<partitions {
            let stored = broker.offsets(topic: topic, partition: partition)?.highWatermark ?? 0
            guard stored == expected else {
                throw SetupFailure(description: "partition \(partition) holds \(stored) records, not \(expected)")
            }
        }
    }

    /// The size of one produced batch: the same records, keyless, one timestamp, uncompressed.
    private static func storedBatchSize(_ payloads: Payloads) throws -> Int {
        var builder = RecordBatchBuilder(capacity: 256 * 1024)
        for value in payloads.values {
            builder.append(timestamp: Payloads.timestamp, key: ByteBuffer?.none, value: value)
        }
        return try builder.build().readableBytes
    }

    func stop() async {
        watchdog.cancel()
        await consumer.close()
        try? await broker.stop()
    }
}

/// Runs `expire` once when an iteration has been running longer than `limit`.
final class Watchdog: Sendable {
    private let iterationStart: NIOLockedValueBox<ContinuousClock.Instant?>
    private let task: Task<Void, Never>

    init(limit: Duration, expire: @escaping @Sendable () async -> Void) {
        let iterationStart = NIOLockedValueBox<ContinuousClock.Instant?>(nil)
        self.iterationStart = iterationStart
        task = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                if let start = iterationStart.withLockedValue({ $0 }), ContinuousClock.now - start > limit {
                    await expire()
                    return
                }
            }
        }
    }

    func begin() { iterationStart.withLockedValue { $0 = .now } }
    func end() { iterationStart.withLockedValue { $0 = nil } }
    func cancel() { task.cancel() }
}
