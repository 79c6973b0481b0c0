import Foundation
import KafkaClient
import KafkaProtocol
import Logging
import MockBroker
import NIOCore
import Testing

let clientTestLogger: Logger = {
    var logger = Logger(label: "client-test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()

/// Starts a broker for the duration of `body` and always stops it.
func withBroker<T>(
    _ configure: (inout MockBrokerConfiguration) -> Void = { _ in },
    _ body: (MockBroker) async throws -> T
) async throws -> T {
    var configuration = MockBrokerConfiguration()
    configuration.eventLoopThreads = 2
    configure(&configuration)
    let broker = try await MockBroker.start(configuration: configuration, logger: clientTestLogger)
    do {
        let result = try await body(broker)
        try await broker.stop()
        return result
    } catch {
        try? await broker.stop()
        throw error
    }
}

func producerConfiguration(_ broker: MockBroker, _ change: (inout ProducerConfiguration) -> Void = { _ in }) -> ProducerConfiguration {
    var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
    configuration.client.requestTimeout = .seconds(10)
    configuration.deliveryTimeout = .seconds(30)
    configuration.maxBlock = .seconds(10)
    change(&configuration)
    return configuration
}

/// Reads a partition back with a raw connection: every record from `offset`.
func readPartition(_ broker: MockBroker, topic: String, partition: Int32, from offset: Int64 = 0, expect count: Int? = nil) async throws -> [Record] {
    let connection = try await BrokerConnection.connect(host: broker.host, port: broker.port)
    defer { Task { await connection.close() } }
    let topicId = try await connection.send(MetadataRequest(topics: [.init(name: topic)], allowAutoTopicCreation: false)).topics.first?.topicId ?? .zero
    var records: [Record] = []
    var next = offset
    for _ in 0..<200 {
        let highWatermark = broker.offsets(topic: topic, partition: partition)?.highWatermark ?? 0
        if next >= highWatermark && (count == nil || records.count >= count!) { break }
        let response = try await connection.send(FetchRequest(maxWaitMs: 100, minBytes: 1, maxBytes: 50 << 20, topics: [
            .init(topic: topic, topicId: topicId, partitions: [.init(partition: partition, fetchOffset: next, partitionMaxBytes: 10 << 20)]),
        ]))
        let data = try #require(response.responses.first?.partitions.first)
        #expect(data.errorCode == 0)
        var reader = RecordBatchReader(data.records?.buffer ?? ByteBuffer())
        while let batch = try reader.next() {
            try batch.verifyChecksum()
            records += try batch.allRecords().filter { $0.offset >= next }
            next = batch.nextOffset
        }
    }
    return records
}

extension Record {
    var keyString: String? { key.map { String(buffer: $0) } }
    var valueString: String? { value.map { String(buffer: $0) } }
}
