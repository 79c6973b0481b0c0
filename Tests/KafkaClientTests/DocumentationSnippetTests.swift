import KafkaClient
import KafkaCompression
import KafkaProtocol
import Logging
import MockBroker
import NIOCore
import ServiceLifecycle
import Testing

// The code of the DocC articles (Sources/KafkaClient/Documentation.docc), so that API drift breaks the build:
// `scripts/check-doc-snippets.py` (run by `scripts/docs.sh`) checks that every ```swift block of the articles is
// here, line for line. Functions whose snippets need a broker on 127.0.0.1:9092 are only compiled, never called;
// the tests at the end run what works against an in-process MockBroker, and check the defaults the
// Configuration Reference states.

// MARK: - Getting Started

enum GettingStartedSnippets {
    static func produce() async throws {
        let configuration = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        let producer = try KafkaProducer(configuration: configuration)

        let metadata = try await producer.send(ProducerRecord(topic: "orders", key: "customer-42", value: #"{"total": 12.5}"#))
        print("written to partition \(metadata.partition) at offset \(metadata.offset)")

        await producer.shutdown()
    }

    static func consume() async throws {
        var configuration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092", groupId: "billing")
        configuration.autoOffsetReset = .earliest
        let consumer = try KafkaConsumer(configuration: configuration)
        try consumer.subscribe(topics: ["orders"])

        for try await record in consumer.records {
            let value = record.value.map { String(buffer: $0) } ?? ""
            print("\(record.topic)-\(record.partition)@\(record.offset): \(value)")
        }
    }

    struct OrderProcessor: Service {
        let consumer: KafkaConsumer
        let producer: KafkaProducer

        func run() async throws {
            try await cancelWhenGracefulShutdown {
                for try await record in consumer.records {
                    guard let value = record.value else { continue }
                    _ = try await producer.send(ProducerRecord(topic: "invoices", key: record.key, value: value))
                }
            }
        }
    }

    struct OrdersService {
        static func main() async throws {
            let logger = Logger(label: "orders-service")
            let producer = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: "127.0.0.1:9092"),
                                             logger: logger)
            var consumerConfiguration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092", groupId: "billing")
            consumerConfiguration.autoOffsetReset = .earliest
            let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
            try consumer.subscribe(topics: ["orders"])

            let group = ServiceGroup(
                services: [producer, consumer, OrderProcessor(consumer: consumer, producer: producer)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
            try await group.run()
        }
    }
}

// MARK: - Producing

enum ProducingSnippets {
    static func deliveryReports() async throws {
        let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
            configuration: ProducerConfiguration(bootstrapServers: "127.0.0.1:9092"))

        let outcomes = Task {
            var failed = 0
            for await case .deliveryReports(let reports) in events {
                if let error = reports.error {
                    print("\(reports.count) records to \(reports.topic)-\(reports.partition) failed: \(error)")
                    failed += reports.count
                }
            }
            return failed                        // the sequence ends when the producer has shut down
        }

        for index in 0..<100_000 {
            try await producer.enqueue(ProducerRecord(topic: "clicks", key: "user-\(index % 100)", value: "click \(index)"))
        }
        await producer.shutdown()
        let failed = await outcomes.value
        _ = failed
    }

    static func concurrentSends(producer: KafkaProducer) async throws {
        let orders = ["order-1", "order-2", "order-3"]
        try await withThrowingTaskGroup(of: RecordMetadata.self) { group in
            for order in orders {
                group.addTask {
                    try await producer.send(ProducerRecord(topic: "orders", key: order, value: "created"))
                }
            }
            for try await metadata in group {
                print("offset \(metadata.offset)")
            }
        }
    }

    static func awaitedSend(producer: KafkaProducer) async throws {
        let metadata = try await producer.send(ProducerRecord(topic: "orders", key: "order-1", value: "paid"))
        _ = metadata
    }

    static func headers() {
        let record = ProducerRecord(
            topic: "orders",
            key: "customer-42",
            value: #"{"total": 12.5}"#,
            headers: [RecordHeader(key: "source", value: "checkout")]
        )
        _ = record
    }

    struct RegionPartitioner: Partitioner {
        func partition(topic: String, key: (any KafkaBytes)?, value: (any KafkaBytes)?, partitionCount: Int32) -> Int32 {
            guard let key = key as? String else { return 0 }
            return key.hasPrefix("eu-") ? 0 : partitionCount - 1
        }
    }

    static func customPartitioner() {
        var configuration = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.partitioner = .custom(RegionPartitioner())
        _ = configuration
    }

    static func flushAndShutdown(producer: KafkaProducer) async throws {
        try await producer.flush()
        await producer.shutdown()
    }
}
