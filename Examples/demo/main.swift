import KafkaClient
import KafkaProtocol
import Logging
import MockBroker
import NIOCore

// The demo: start an embedded mock broker, produce keyed records through the client, read them back.

var logger = Logger(label: "demo")
logger.logLevel = .warning

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
for index in 0..<12 {
    let customer = customers[index % customers.count]
    let record = ProducerRecord(topic: "demo-orders", key: customer, value: #"{"order":\#(index),"customer":"\#(customer)"}"#,
                                headers: [RecordHeader(key: "source", value: "demo")])
    let metadata = try await producer.send(record)
    print("  key \(customer.padding(toLength: 6, withPad: " ", startingAt: 0)) -> partition \(metadata.partition), offset \(metadata.offset)")
}
await producer.shutdown()

print("\nReading every partition back from the broker:")
let connection = try await BrokerConnection.connect(host: broker.host, port: broker.port)
let topicId = try await connection.send(MetadataRequest(topics: [.init(name: "demo-orders")])).topics.first?.topicId ?? .zero
var total = 0
for partition: Int32 in 0..<3 {
    let response = try await connection.send(FetchRequest(maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [
        .init(topic: "demo-orders", topicId: topicId, partitions: [.init(partition: partition, fetchOffset: 0, partitionMaxBytes: 1 << 20)]),
    ]))
    var reader = RecordBatchReader(response.responses.first?.partitions.first?.records?.buffer ?? ByteBuffer())
    while let batch = try reader.next() {
        for record in try batch.allRecords() {
            let key = record.key.map { String(buffer: $0) } ?? "-"
            let value = record.value.map { String(buffer: $0) } ?? "-"
            print("  partition \(partition) offset \(record.offset): \(key) \(value) (batch codec: \(batch.compression))")
            total += 1
        }
    }
}
await connection.close()
print("\nRead \(total) of 12 records back. Broker statistics: \(broker.statistics.producedBytes) bytes produced, "
      + "\(broker.statistics.fetchBytesSentByFileRegion) fetched bytes sent with sendfile.")
try await broker.stop()
print("Stopped the broker.")
if total != 12 { fatalError("expected 12 records") }
