import KafkaClient
import KafkaProtocol
import Logging
import MockBroker
import NIOCore

// The demo: start an embedded mock broker, produce keyed records through the client, read them back through two
// consumers in a group.

let logger = {
    var logger = Logger(label: "demo")
    logger.logLevel = .warning
    return logger
}()

print("Starting an embedded MockBroker...")
let broker = try await MockBroker.start(logger: logger)
print("  listening on \(broker.bootstrapServers), data in \(broker.dataDirectory ?? "?")")
try broker.createTopic("demo-orders", partitions: 3)
print("  created topic demo-orders with 3 partitions")

print("\nProducing 12 records with keys (each key always lands on the same partition):")
var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
configuration.compression = .lz4
let producer = try KafkaProducer(configuration: configuration, logger: logger)
let customers = ["alice", "bob", "carol", "dave"]
var sent: [RecordMetadata] = []
for index in 0..<12 {
    let customer = customers[index % customers.count]
    let record = ProducerRecord(topic: "demo-orders", key: customer, value: #"{"order":\#(index),"customer":"\#(customer)"}"#,
                                headers: [RecordHeader(key: "source", value: "demo")])
    let metadata = try await producer.send(record)
    sent.append(metadata)
    print("  key \(customer.padding(toLength: 6, withPad: " ", startingAt: 0)) -> partition \(metadata.partition), offset \(metadata.offset)")
}
await producer.shutdown()

// Two consumers in one group split the three partitions between them, read their records, commit and leave.
let group = "demo-readers"
print("\nReading back through two consumers in the group \(group):")
let total = try await readBack(from: broker, group: group, produced: sent, logger: logger)

let committed = try await broker.committedOffsets(group: group).sorted { $0.partition < $1.partition }
print("\nCommitted offsets of \(group): " + committed.map { "partition \($0.partition) -> \($0.offset)" }.joined(separator: ", "))
print("Read \(total) of 12 records back. Broker statistics: \(broker.statistics.producedBytes) bytes produced, "
      + "\(broker.statistics.fetchBytesSentByFileRegion) fetched bytes sent with sendfile.")
try await broker.stop()
print("Stopped the broker.")
if total != 12 { fatalError("expected 12 records") }

struct DemoTimedOut: Error {}

func readBack(from broker: MockBroker, group: String, produced sent: [RecordMetadata], logger: Logger) async throws -> Int {
    func makeConsumer(_ name: String) throws -> KafkaConsumer {
        var configuration = ConsumerConfiguration(bootstrapServers: broker.bootstrapServers, groupId: group)
        configuration.client.clientId = name
        configuration.autoOffsetReset = .earliest
        configuration.heartbeatInterval = .milliseconds(500) // rebalance quickly when the second member arrives
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try consumer.subscribe(topics: ["demo-orders"])
        return consumer
    }
    let readers = [try makeConsumer("reader-1"), try makeConsumer("reader-2")]

    // Wait (at most 30 s) until the group has given each reader a share and every partition has an owner.
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        let shares = readers.map(\.assignment)
        if shares.allSatisfy({ !$0.isEmpty }), shares.reduce(0, { $0 + $1.count }) == 3, Set(shares.joined()).count == 3 { break }
        try await Task.sleep(for: .milliseconds(50))
    }
    for (index, reader) in readers.enumerated() {
        print("  reader-\(index + 1) was assigned partitions \(reader.assignment.map(\.partition).sorted())")
    }

    // Each reader reads until it has every record of its partitions, then commits.
    let produced = Dictionary(grouping: sent, by: \.partition).mapValues(\.count)
    let lines = try await withThrowingTaskGroup(of: [String].self) { tasks in
        for (index, reader) in readers.enumerated() {
            tasks.addTask {
                let expected = reader.assignment.reduce(0) { $0 + (produced[$1.partition] ?? 0) }
                var lines: [String] = []
                if expected > 0 {
                    for try await record in reader.records {
                        let key = record.key.map { String(buffer: $0) } ?? "-"
                        let value = record.value.map { String(buffer: $0) } ?? "-"
                        lines.append("  reader-\(index + 1) partition \(record.partition) offset \(record.offset): \(key) \(value)")
                        if lines.count == expected { break }
                    }
                }
                try await reader.commit()
                return lines
            }
        }
        tasks.addTask {
            try await Task.sleep(for: .seconds(30))
            throw DemoTimedOut()
        }
        var lines: [String] = []
        for _ in readers.indices { lines += try await tasks.next() ?? [] }
        tasks.cancelAll()
        return lines
    }
    lines.sorted().forEach { print($0) }
    for reader in readers { await reader.close() }
    return lines.count
}
