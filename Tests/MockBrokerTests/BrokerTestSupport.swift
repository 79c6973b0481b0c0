import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import Logging
import MockBroker
import NIOCore
import Testing

/// Starts a broker for the duration of `body` and always stops it.
func withBroker<T>(
    _ configure: (inout MockBrokerConfiguration) -> Void = { _ in },
    _ body: (MockBroker) async throws -> T
) async throws -> T {
    var configuration = MockBrokerConfiguration()
    configuration.eventLoopThreads = 2
    configure(&configuration)
    let broker = try await MockBroker.start(configuration: configuration, logger: testLogger)
    do {
        let result = try await body(broker)
        try await broker.stop()
        return result
    } catch {
        try? await broker.stop()
        throw error
    }
}

let testLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()

extension MockBroker {
    func connect(timeout: TimeAmount = .seconds(10)) async throws -> BrokerConnection {
        var configuration = BrokerConnection.Configuration()
        configuration.requestTimeout = timeout
        configuration.clientId = "mock-broker-tests"
        return try await BrokerConnection.connect(host: host, port: port, configuration: configuration)
    }
}

/// A record to produce in tests.
struct TestRecord: Equatable {
    var key: String?
    var value: String?
    var headers: [RecordHeader] = []
    var timestamp: Int64 = 1_700_000_000_000
}

func makeBatch(_ records: [TestRecord], codec: CompressionCodec = .none,
               configure: (inout RecordBatchBuilder) -> Void = { _ in }) throws -> ByteBuffer {
    var builder = RecordBatchBuilder(capacity: 1024)
    configure(&builder)
    for record in records {
        builder.append(timestamp: record.timestamp, key: record.key.map { ByteBuffer(string: $0) },
                       value: record.value.map { ByteBuffer(string: $0) }, headers: record.headers)
    }
    return try builder.build(compression: codec)
}

extension BrokerConnection {
    /// Produces one batch to one partition and returns the partition's answer.
    func produce(_ batch: ByteBuffer, topic: String, partition: Int32 = 0, acks: Int16 = -1,
                 version: Int16? = nil) async throws -> ProduceResponse.PartitionProduceResponse {
        let request = ProduceRequest(acks: acks, timeoutMs: 5000, topicData: [
            .init(name: topic, partitionData: [.init(index: partition, records: RecordSet(batch))]),
        ])
        let response = try await send(request, version: version)
        return try #require(response.responses.first?.partitionResponses.first)
    }

    func produce(_ records: [TestRecord], topic: String, partition: Int32 = 0, codec: CompressionCodec = .none) async throws -> Int64 {
        let result = try await produce(try makeBatch(records, codec: codec), topic: topic, partition: partition)
        #expect(result.errorCode == 0, "produce failed: \(KafkaErrorCode(rawValue: result.errorCode))")
        return result.baseOffset
    }

    /// One fetch of one partition.
    func fetch(topic: String, partition: Int32 = 0, offset: Int64, maxBytes: Int32 = 10 << 20,
               partitionMaxBytes: Int32 = 10 << 20, minBytes: Int32 = 1, maxWaitMs: Int32 = 0,
               version: Int16? = nil) async throws -> FetchResponse.PartitionData {
        let version = try version ?? self.version(for: FetchRequest.self)
        let topicId = try await topicId(topic)
        let request = FetchRequest(
            maxWaitMs: maxWaitMs, minBytes: minBytes, maxBytes: maxBytes, isolationLevel: 0,
            topics: [.init(topic: topic, topicId: topicId, partitions: [
                .init(partition: partition, fetchOffset: offset, partitionMaxBytes: partitionMaxBytes),
            ])]
        )
        let response = try await send(request, version: version)
        return try #require(response.responses.first?.partitions.first)
    }

    func topicId(_ topic: String) async throws -> KafkaUUID {
        let metadata = try await send(MetadataRequest(topics: [.init(name: topic)], allowAutoTopicCreation: false))
        return metadata.topics.first?.topicId ?? .zero
    }

    /// Fetches from `offset` until `count` records came back (bounded by `attempts`).
    func fetchRecords(topic: String, partition: Int32 = 0, from offset: Int64 = 0, count: Int,
                      attempts: Int = 50) async throws -> [Record] {
        var records: [Record] = []
        var next = offset
        for _ in 0..<attempts where records.count < count {
            let data = try await fetch(topic: topic, partition: partition, offset: next, maxWaitMs: 100)
            #expect(data.errorCode == 0, "fetch error \(KafkaErrorCode(rawValue: data.errorCode))")
            var reader = RecordBatchReader(data.records?.buffer ?? ByteBuffer())
            while let batch = try reader.next() {
                try batch.verifyChecksum()
                for record in try batch.allRecords() where record.offset >= next {
                    records.append(record)
                }
                next = max(next, batch.nextOffset)
            }
        }
        return records
    }
}

extension Record {
    var keyString: String? { key.map { String(buffer: $0) } }
    var valueString: String? { value.map { String(buffer: $0) } }
}

/// A fresh directory under the temporary directory, removed by the caller.
func makeTemporaryDirectory(_ label: String = "mock-broker-test") throws -> String {
    let path = NSTemporaryDirectory() + "/\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
