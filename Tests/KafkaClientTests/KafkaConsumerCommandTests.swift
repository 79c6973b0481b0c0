import Foundation
import KafkaClient
import KafkaTestSupport
import MockBroker
import Testing

/// Runs the built `kafka-consumer` with `arguments` (bounded by 60 s, a safety limit).
func kafkaConsumer(_ arguments: [String]) async throws -> ProcessOutput {
    try await runProcess(try BuiltExecutable.locate("kafka-consumer", override: "KAFKA_CONSUMER_BINARY"), arguments, limit: .seconds(60))
}

@Suite("kafka-consumer executable against MockBroker", .timeLimit(.minutes(3)))
struct KafkaConsumerCommandTests {
    /// Values small (copied into the output) and large (written from the fetched buffers), with null values
    /// and keys; enough of them that the output is flushed many times, by size and by count of large values.
    static let values: [[UInt8]?] = (0..<900).map { index in
        switch index % 6 {
        case 0: nil
        case 1, 4: Array("small \(index)".utf8)
        case 2: (0..<3000).map { UInt8(truncatingIfNeeded: $0 &+ index) } // borrowed, any bytes
        case 3: Array(repeating: UInt8(ascii: "x"), count: 2048)          // borrowed at the threshold
        default: Array(repeating: UInt8(ascii: "y"), count: 2047)         // copied just below it
        }
    }

    @Test("--format value and kv print every value byte for byte, large values and small, in order")
    func valuesByteForByte() async throws {
        try await withBroker { broker in
            try broker.createTopic("printed")
            let producer = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: broker.bootstrapServers),
                                             logger: testLogger)
            for (index, value) in Self.values.enumerated() {
                let key: [UInt8]? = index % 5 == 0 ? nil : Array("key-\(index)".utf8)
                try await producer.enqueue(ProducerRecord(topic: "printed", partition: 0, key: key, value: value))
            }
            try await producer.flush()
            await producer.shutdown()

            func expected(keys: Bool) -> Data {
                var data = Data()
                for (index, value) in Self.values.enumerated() {
                    if keys {
                        data.append(contentsOf: index % 5 == 0 ? Array("null".utf8) : Array("key-\(index)".utf8))
                        data.append(UInt8(ascii: "\t"))
                    }
                    data.append(contentsOf: value ?? Array("null".utf8))
                    data.append(UInt8(ascii: "\n"))
                }
                return data
            }
            for (format, keys) in [("value", false), ("kv", true)] {
                let output = try await kafkaConsumer(["--bootstrap-server", broker.bootstrapServers, "--topic", "printed",
                                                      "--from-beginning", "--count", "\(Self.values.count)", "--format", format])
                #expect(output.succeeded, "\(output.summary)")
                let wanted = expected(keys: keys)
                #expect(output.stdout.count == wanted.count, "--format \(format)")
                #expect(output.stdout == wanted, "--format \(format): first difference at byte \(Array(zip(output.stdout, wanted)).firstIndex { $0 != $1 } ?? -1)")
            }
        }
    }
}
