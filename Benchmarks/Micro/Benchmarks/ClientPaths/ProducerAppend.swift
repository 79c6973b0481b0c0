import Benchmark
import KafkaClient
import MicroSupport
import MockBroker
import NIOCore

/// `KafkaProducer.enqueue` of 1,000 records of 100 bytes per iteration, into a producer connected to a loopback
/// MockBroker. Batches linger far longer than a run and hold a whole iteration, so what is measured is the
/// append path: partitioning, the accumulator, encoding into the batch. The batches are sent by `flush()` after
/// the measurement stops. The scaling factor is the 1,000 records: metrics are per record.
func producerAppendBenchmarks() {
    for keyed in [false, true] {
        let fixture = Fixture<ProducerState>()
        Benchmark(
            "Producer enqueue \(keyed ? "keyed" : "keyless")",
            // 5 (keyless) and 15 (keyed) allocations per 1,000 records, give or take the sender thread's few:
            // more than 5 more fails, so an extra allocation every 150 records is caught. Keyed, each of the three
            // partitions' batches (about 40 KB, a share of buffer.memory below batch.size) gets a new buffer: two
            // allocations a batch. Keyless, the one batch reaches half of batch.size and reuses a kept buffer.
            configuration: MicroConfiguration.make(
                scalingFactor: .kilo, allocations: .perIteration(5), maxDuration: .seconds(3), maxIterations: 1000
            )
        ) { benchmark in
            guard let state = fixture.state else { return benchmark.error("the producer did not start") }
            for record in state.records {
                blackHole(try await state.producer.enqueue(record))
            }
            benchmark.stopMeasurement()
            // Not measured: send this iteration's batches, so that every iteration starts from empty queues.
            try? await state.producer.flush()
        } setup: {
            fixture.state = try await ProducerState.start(keyed: keyed)
        } teardown: {
            await fixture.state?.stop()
            fixture.state = nil
        }
    }
}

final class ProducerState: Sendable {
    static let topic = "append"

    let broker: MockBroker
    let producer: KafkaProducer
    /// Built once: the benchmark measures `enqueue`, not building records. Keyless records stick to one
    /// partition per batch; keyed ones (100 distinct keys) spread over the 3 partitions by murmur2.
    let records: [ProducerRecord]

    private init(broker: MockBroker, producer: KafkaProducer, records: [ProducerRecord]) {
        self.broker = broker
        self.producer = producer
        self.records = records
    }

    static func start(keyed: Bool) async throws -> ProducerState {
        let broker = try await startLoopbackBroker()
        do {
            try broker.createTopic(topic, partitions: 3)
            var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.acks = .leader
            configuration.enableIdempotence = false
            // Nothing leaves before flush(): batches linger for 5 minutes and one holds an iteration's records.
            configuration.linger = .seconds(300)
            configuration.batchSize = 256 * 1024
            let producer = try KafkaProducer(configuration: configuration, logger: quietLogger)
            let payloads = Payloads()
            let records = payloads.values.indices.map { index in
                ProducerRecord(topic: topic, key: keyed ? "key-\(index % 100)" : nil, value: payloads.values[index])
            }
            // Metadata and connections before the first measurement; and a check that records do arrive.
            for record in records { try await producer.enqueue(record) }
            try? await producer.flush()
            let stored = (0..<3).reduce(Int64(0)) { $0 + (broker.offsets(topic: topic, partition: $1)?.highWatermark ?? 0) }
            guard stored == Int64(records.count) else {
                await producer.shutdown()
                throw SetupFailure(description: "the broker holds \(stored) of \(records.count) records produced")
            }
            return ProducerState(broker: broker, producer: producer, records: records)
        } catch {
            try? await broker.stop()
            throw error
        }
    }

    func stop() async {
        await producer.shutdown()
        try? await broker.stop()
    }
}
