import Foundation
import KafkaClient
import KafkaProtocol
import Logging
import MockBroker
import NIOCore
import Testing

private let consumerTestLogger: Logger = {
    var logger = Logger(label: "consumer-test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()

private func startBroker() async throws -> MockBroker {
    var configuration = MockBrokerConfiguration()
    configuration.eventLoopThreads = 2
    return try await MockBroker.start(configuration: configuration, logger: consumerTestLogger)
}

private func produce(_ broker: MockBroker, topic: String, count: Int, partitions: Int32) async throws {
    var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
    configuration.partitioner = .roundRobin
    let producer = try KafkaProducer(configuration: configuration, logger: consumerTestLogger)
    for index in 0..<count {
        try await producer.enqueue(ProducerRecord(topic: topic, key: "k\(index)", value: "v\(index)",
                                                  headers: [RecordHeader(key: "i", value: "\(index)")]))
    }
    await producer.shutdown()
}

/// Reads until `count` records arrived (bounded by `seconds`).
private func read(_ consumer: KafkaConsumer, count: Int, within seconds: Double = 20) async throws -> [ConsumerRecord] {
    try await withThrowingTaskGroup(of: [ConsumerRecord].self) { group in
        group.addTask {
            var records: [ConsumerRecord] = []
            for try await record in consumer.records {
                records.append(record)
                if records.count >= count { break }
            }
            return records
        }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return []
        }
        let first = try await group.next() ?? []
        group.cancelAll()
        return first
    }
}

@Suite("Consumer against the mock broker")
struct ConsumerTests {
    @Test("assigned partitions are read from the beginning with keys, values and headers")
    func assignedRead() async throws {
        let broker = try await startBroker()
        try broker.createTopic("assigned", partitions: 3)
        try await produce(broker, topic: "assigned", count: 300, partitions: 3)
        var configuration = ConsumerConfiguration(bootstrapServers: broker.bootstrapServers)
        configuration.autoOffsetReset = .earliest
        let consumer = try KafkaConsumer(configuration: configuration, logger: consumerTestLogger)
        try consumer.assign((0..<3).map { TopicPartition(topic: "assigned", partition: $0) })
        let records = try await read(consumer, count: 300)
        #expect(records.count == 300)
        #expect(Set(records.map { String(buffer: $0.value!) }) == Set((0..<300).map { "v\($0)" }))
        for record in records {
            let index = String(buffer: record.value!).dropFirst()
            #expect(record.key.map { String(buffer: $0) } == "k\(index)")
            #expect(Array(record.headers).first?.value.map { String(buffer: $0) } == String(index))
        }
        // Keyed records are placed by murmur2: every position is at its partition's end.
        for partition: Int32 in 0..<3 {
            #expect(consumer.position(TopicPartition(topic: "assigned", partition: partition))
                    == broker.offsets(topic: "assigned", partition: partition)?.highWatermark)
        }
        await consumer.close()
        try await broker.stop()
    }
}
