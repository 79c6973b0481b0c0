import Foundation
import KafkaClient
import Logging
import NIOCore

// Consumer throughput against a running broker: reads --count records of --topic from the beginning.
//   consumer-benchmark --bootstrap 127.0.0.1:9092 --topic perf --count 1000000 [--records]
// `Benchmarks/consumer-benchmark.sh` runs it next to librdkafka's `rdkafka_performance -C` on the same topic.

var bootstrap = "127.0.0.1:9092"
var topic = "consumer-benchmark"
var count = 1_000_000
var perRecord = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--bootstrap": bootstrap = arguments.next() ?? bootstrap
    case "--topic": topic = arguments.next() ?? topic
    case "--count": count = Int(arguments.next() ?? "") ?? count
    case "--records": perRecord = true
    default: fatalError("unknown argument \(argument)")
    }
}

var configuration = ConsumerConfiguration(bootstrapServers: bootstrap)
configuration.autoOffsetReset = .earliest
let consumer = try KafkaConsumer(configuration: configuration, logger: Logger(label: "consumer-benchmark"))
try consumer.assign([TopicPartition(topic: topic, partition: 0)])

// Like rdkafka_performance, the clock starts at the first record received: connection set-up, metadata and the
// offset lookup are not part of the throughput.
var start: ContinuousClock.Instant?
var received = 0
var bytes = 0
if perRecord {
    for try await record in consumer.records {
        if start == nil { start = .now }
        received += 1
        bytes += record.value?.readableBytes ?? 0
        if received >= count { break }
    }
} else {
    for try await batch in consumer.batches {
        if start == nil { start = .now }
        received += batch.count
        for record in batch { bytes += record.value?.readableBytes ?? 0 }
        if received >= count { break }
    }
}
let elapsed = ContinuousClock.now - (start ?? .now)
await consumer.close()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let rate = Double(received) / seconds
print(String(format: "%d records (%d value bytes) in %.2f s: %.0f records/s, %.2f MB/s", received, bytes, seconds, rate,
             Double(bytes) / 1e6 / seconds))
print("RECORDS_PER_SECOND=\(Int(rate))")
