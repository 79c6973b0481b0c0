import KafkaClient
import KafkaCompression
import KafkaProtocol
import MockBroker
import NIOCore
import Testing

@Suite("Producer against the mock broker")
struct ProducerTests {
    @Test("awaited sends return partition and offset; keys land where the Java client puts them")
    func awaitedSends() async throws {
        try await withBroker { broker in
            try broker.createTopic("keyed", partitions: 6)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: clientTestLogger)
            var placed: [String: Int32] = [:]
            for index in 0..<50 {
                let key = "key-\(index)"
                let metadata = try await producer.send(ProducerRecord(topic: "keyed", key: key, value: "value-\(index)"))
                #expect(metadata.partition == Array(key.utf8).withUnsafeBytes { Murmur2.partition(forKey: $0, partitionCount: 6) })
                #expect(metadata.offset >= 0)
                placed[key] = metadata.partition
            }
            await producer.shutdown()
            var total = 0
            for partition: Int32 in 0..<6 {
                let records = try await readPartition(broker, topic: "keyed", partition: partition)
                total += records.count
                for record in records { #expect(placed[record.keyString!] == partition) }
            }
            #expect(total == 50)
        }
    }
}
