import Foundation
import KafkaClient
import KafkaCompression
import Logging
import NIOCore

// Producer throughput against a running broker (e.g. `mock-broker`):
//   producer-benchmark --bootstrap 127.0.0.1:9092 --topic perf --count 1000000 --size 100 --acks 1 --compression lz4
// `Benchmarks/producer-benchmark.sh` runs it next to librdkafka's rdkafka_performance on the same broker.

struct Options {
    var bootstrap = "127.0.0.1:9092"
    var topic = "producer-benchmark"
    var count = 1_000_000
    var size = 100
    var acks = ProducerConfiguration.Acks.leader
    var compression = CompressionCodec.none
    var lingerMilliseconds: Int64 = 5
    var batchSize = 1_000_000
    var idempotent = false

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            let value = iterator.next() ?? ""
            switch argument {
            case "--bootstrap": bootstrap = value
            case "--topic": topic = value
            case "--count": count = Int(value) ?? count
            case "--size": size = Int(value) ?? size
            case "--acks": acks = value == "all" || value == "-1" ? .all : value == "0" ? .none : .leader
            case "--compression": compression = CompressionCodec(name: value) ?? .none
            case "--linger-ms": lingerMilliseconds = Int64(value) ?? lingerMilliseconds
            case "--batch-size": batchSize = Int(value) ?? batchSize
            case "--idempotent": idempotent = value == "true"
            default: fatalError("unknown argument \(argument)")
            }
        }
    }
}

let options = Options(CommandLine.arguments)
var configuration = ProducerConfiguration(bootstrapServers: options.bootstrap)
configuration.acks = options.acks
configuration.compression = options.compression
configuration.linger = .milliseconds(options.lingerMilliseconds)
configuration.batchSize = options.batchSize
configuration.maxRequestSize = max(configuration.maxRequestSize, options.batchSize + 4096)
configuration.bufferMemory = max(configuration.bufferMemory, options.batchSize * 8)
configuration.enableIdempotence = options.idempotent
let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: configuration,
                                                                   logger: Logger(label: "producer-benchmark"))

// The payload is a fixed pattern, like rdkafka_performance's.
let payload = [UInt8]((0..<options.size).map { UInt8(ascii: "a") + UInt8($0 % 26) })
let value = ByteBuffer(bytes: payload)

// Warm up: metadata and connection.
_ = try await producer.send(ProducerRecord(topic: options.topic, value: value))

/// When each record was enqueued, written by the sending loop and read once its report arrives (the producer's
/// internal locks order the two).
final class EnqueueTimes: @unchecked Sendable {
    let nanoseconds: UnsafeMutableBufferPointer<UInt64>
    init(count: Int) { nanoseconds = .allocate(capacity: count) }
    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

let clock = ContinuousClock()
let start = clock.now
let enqueuedAt = EnqueueTimes(count: options.count + 1)
let reports = Task { () -> (delivered: Int, failed: Int, latencies: [UInt64], finished: ContinuousClock.Instant) in
    var delivered = 0
    var failed = 0
    var latencies: [UInt64] = []
    latencies.reserveCapacity(options.count)
    for await case .deliveryReports(let batch) in events {
        let now = EnqueueTimes.now()
        for report in batch {
            switch report.result {
            case .success: delivered += 1
            case .failure: failed += 1
            }
            let index = Int(report.id.rawValue)
            if index > 0 && index <= options.count { latencies.append(now &- enqueuedAt.nanoseconds[index]) }
        }
        if delivered + failed >= options.count + 1 { return (delivered, failed, latencies, clock.now) }
    }
    return (delivered, failed, latencies, clock.now)
}
// Record ids count from 0 (the warm-up record), so record n of the run has id n.
for index in 1...options.count {
    enqueuedAt.nanoseconds[index] = EnqueueTimes.now()
    try await producer.enqueue(ProducerRecord(topic: options.topic, value: value))
}
let (delivered, failed, latencies, finished) = await reports.value
await producer.shutdown()

let seconds = Double((finished - start).components.seconds) + Double((finished - start).components.attoseconds) / 1e18
let sorted = latencies.sorted()
func percentile(_ p: Double) -> Double {
    guard !sorted.isEmpty else { return 0 }
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
}
let rate = Double(options.count) / seconds
print(String(format: "%d records of %d bytes, acks=%d, %@: %.2f s, %.0f records/s, %.2f MB/s, p50 %.1f ms, p99 %.1f ms, %d failed",
             options.count, options.size, Int(options.acks.rawValue), options.compression.description, seconds, rate,
             rate * Double(options.size) / 1e6, percentile(0.5), percentile(0.99), failed))
print("RECORDS_PER_SECOND=\(Int(rate))")
if failed > 0 || delivered < options.count { exit(1) }
