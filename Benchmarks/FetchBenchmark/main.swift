import Foundation
import KafkaClient
import KafkaProtocol
import Logging
import MockBroker
import NIOCore

// Fetch throughput of the mock broker: one client reads a large topic from an in-process broker.
// Run in release: `swift run -c release fetch-benchmark [--size-mb N] [--partition-max-kb K] [--rounds R] [--copy]`.
// `Benchmarks/fetch-benchmark.sh` runs it next to iperf3 on loopback.

struct Options {
    var sizeMegabytes = 1024
    var batchKilobytes = 512
    var partitionMaxKilobytes = 8192
    var rounds = 3
    var zeroCopy = true
    var dataDirectory: String?

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--size-mb": sizeMegabytes = Int(iterator.next() ?? "") ?? sizeMegabytes
            case "--batch-kb": batchKilobytes = Int(iterator.next() ?? "") ?? batchKilobytes
            case "--partition-max-kb": partitionMaxKilobytes = Int(iterator.next() ?? "") ?? partitionMaxKilobytes
            case "--rounds": rounds = Int(iterator.next() ?? "") ?? rounds
            case "--copy": zeroCopy = false
            case "--data-dir": dataDirectory = iterator.next()
            default: fatalError("unknown argument \(argument)")
            }
        }
    }
}

let options = Options(CommandLine.arguments)
var configuration = MockBrokerConfiguration()
configuration.zeroCopyFetch = options.zeroCopy
configuration.dataDirectory = options.dataDirectory
configuration.eventLoopThreads = 1
let broker = try await MockBroker.start(configuration: configuration, logger: Logger(label: "fetch-benchmark", factory: { _ in SwiftLogNoOpLogHandler() }))
let topic = "fetch-benchmark"
try broker.createTopic(topic, configs: ["max.message.bytes": String(options.batchKilobytes * 2048)])
let connection = try await BrokerConnection.connect(host: broker.host, port: broker.port)

// Fill: batches of 100-byte records (the payload is not compressed, like most fetch traffic on disk).
let recordsPerBatch = options.batchKilobytes * 1024 / 110
var builderTemplate = [UInt8](repeating: 0, count: 100)
var generator = SystemRandomNumberGenerator()
for index in builderTemplate.indices { builderTemplate[index] = UInt8.random(in: 32...126, using: &generator) }
let value = ByteBuffer(bytes: builderTemplate)
let targetBytes = options.sizeMegabytes * 1024 * 1024
var written = 0
var produced: Int64 = 0
let fillStart = ContinuousClock.now
while written < targetBytes {
    var builder = RecordBatchBuilder(capacity: options.batchKilobytes * 1024 + 1024)
    for index in 0..<recordsPerBatch {
        builder.append(timestamp: 1_700_000_000_000 + Int64(index), key: nil, value: value)
    }
    let batch = try builder.build()
    written += batch.readableBytes
    let response = try await connection.send(ProduceRequest(acks: 1, timeoutMs: 30_000, topicData: [
        .init(name: topic, partitionData: [.init(index: 0, records: RecordSet(batch))]),
    ]))
    let code = response.responses.first?.partitionResponses.first?.errorCode ?? -1
    guard code == 0 else {
        print("produce failed: \(KafkaErrorCode(rawValue: code)) \(response)")
        exit(1)
    }
    produced += Int64(recordsPerBatch)
}
let fillSeconds = (ContinuousClock.now - fillStart).seconds
print(String(format: "filled %.0f MB (%lld records) in %.1f s", Double(written) / 1e6, produced, fillSeconds))

func readAll(_ connection: BrokerConnection, produced: Int64, partitionMaxBytes: Int32) async throws -> (bytes: Int, records: Int64, seconds: Double) {
    // Fetch v13+ names topics by id.
    let topicId = try await connection.send(MetadataRequest(topics: [.init(name: topic)])).topics.first?.topicId ?? .zero
    var offset: Int64 = 0
    var bytes = 0
    var records: Int64 = 0
    let start = ContinuousClock.now
    let request = { (offset: Int64) in
        FetchRequest(maxWaitMs: 500, minBytes: 1, maxBytes: 64 << 20, isolationLevel: 0, topics: [
            .init(topic: topic, topicId: topicId, partitions: [.init(partition: 0, fetchOffset: offset,
                                                   partitionMaxBytes: partitionMaxBytes)]),
        ])
    }
    while offset < produced {
        let response = try await connection.send(request(offset))
        guard let data = response.responses.first?.partitions.first, data.errorCode == 0, let payload = data.records?.buffer else {
            fatalError("fetch failed: \(response)")
        }
        bytes += payload.readableBytes
        var reader = RecordBatchReader(payload)
        while let batch = try reader.next() {
            records += Int64(batch.recordCount)
            offset = batch.nextOffset
        }
    }
    return (bytes, records, (ContinuousClock.now - start).seconds)
}

var best = 0.0
for round in 1...options.rounds {
    let result = try await readAll(connection, produced: produced, partitionMaxBytes: Int32(options.partitionMaxKilobytes * 1024))
    let rate = Double(result.bytes) / 1e6 / result.seconds
    best = max(best, rate)
    print(String(format: "round %d: %.0f MB in %.2f s = %.0f MB/s, %.2f M records/s", round, Double(result.bytes) / 1e6,
                 result.seconds, rate, Double(result.records) / 1e6 / result.seconds))
}
let statistics = broker.statistics
let total = statistics.fetchBytesSentByFileRegion + statistics.fetchBytesCopied
print(String(format: "best: %.0f MB/s; record bytes sent by sendfile: %.1f%% (%lld of %lld)", best,
             total > 0 ? 100 * Double(statistics.fetchBytesSentByFileRegion) / Double(total) : 0,
             statistics.fetchBytesSentByFileRegion, total))
print("FETCH_MBPS=\(Int(best))")
await connection.close()
try await broker.stop()

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
