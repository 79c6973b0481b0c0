import KafkaClient
import KafkaCompression
import KafkaProtocol
import Logging
import MetricsTestKit
import MockBroker
import NIOCore
import ServiceLifecycle
import Testing
import Tracing

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
            print("\(record.topic)-\(record.partition)@\(record.offset): \(record.valueString ?? "")")
        }
    }

    struct InvoiceWriter: Service {
        let consumer: KafkaConsumer
        let producer: KafkaProducer

        func run() async throws {
            try await cancelWhenGracefulShutdown {
                for try await batch in consumer.batches {
                    for record in batch {
                        try await producer.enqueue(ProducerRecord(topic: "invoices", key: record.key,
                                                                  value: "invoice for \(record.valueString ?? "")"))
                    }
                    try await producer.flush()       // throws if any record of the batch failed: nothing is committed
                    try await consumer.commit()
                }
            }
        }
    }

    struct OrdersService {
        static func main() async throws {
            let logger = Logger(label: "orders-service")
            let producer = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: "127.0.0.1:9092"),
                                             logger: logger)
            var consumerConfiguration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092", groupId: "invoicing")
            consumerConfiguration.autoOffsetReset = .earliest
            consumerConfiguration.enableAutoCommit = false
            let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
            try consumer.subscribe(topics: ["orders"])

            // If the writer stops (its input ended, or it threw), the others shut down gracefully too.
            let writer = ServiceGroupConfiguration.ServiceConfiguration(
                service: InvoiceWriter(consumer: consumer, producer: producer),
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup
            )
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: [.init(service: producer), .init(service: consumer), writer],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
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

    static func reportsOnTheEventLoop(events: ProducerEvents) async {
        let outcomes = Task(executorPreference: events.executor) {
            var failed = 0
            for await case .deliveryReports(let reports) in events where reports.error != nil { failed += reports.count }
            return failed
        }
        _ = await outcomes.value
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

    static func flushAndClose(producer: KafkaProducer) async throws {
        try await producer.flush()
        await producer.close(timeout: .seconds(10))
    }

    static func partitionsFor(producer: KafkaProducer) async throws {
        let partitions = try await producer.partitionsFor("orders")
        print("orders has \(partitions.count) partitions")
    }

    static func errors(producer: KafkaProducer) async throws {
        do {
            _ = try await producer.send(ProducerRecord(topic: "orders", value: "created"))
        } catch let error as any KafkaError where error.brokerErrorCode == .topicAuthorizationFailed {
            print("not allowed to write to orders")
        }
    }
}

// MARK: - Consuming with Groups

enum ConsumingSnippets {
    static func handle(_ record: ConsumerRecord) async throws {}

    static func batches() async throws {
        var configuration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092", groupId: "billing")
        configuration.autoOffsetReset = .earliest
        let consumer = try KafkaConsumer(configuration: configuration)
        try consumer.subscribe(topics: ["orders", "refunds"])

        for try await batch in consumer.batches {
            for record in batch {
                try await handle(record)
            }
        }
    }

    static func manualCommits() async throws {
        var configuration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092", groupId: "billing")
        configuration.enableAutoCommit = false
        let consumer = try KafkaConsumer(configuration: configuration)
        try consumer.subscribe(topics: ["orders"])

        for try await batch in consumer.batches {
            for record in batch {
                try await handle(record)
            }
            try await consumer.commit()
        }
    }

    static func commitOffsets(consumer: KafkaConsumer, record: ConsumerRecord) async throws {
        try await consumer.commit(offsets: [record.topicPartition: OffsetAndMetadata(offset: record.offset + 1)])
    }

    static func committed(consumer: KafkaConsumer) async throws {
        let partition = TopicPartition(topic: "orders", partition: 0)
        let committed = try await consumer.committed([partition])
        if let offset = committed[partition] {
            print("committed: \(offset.offset)")
        }
    }

    static func rebalanceEvents(consumer: KafkaConsumer) {
        Task {
            for await event in consumer.rebalanceEvents {
                switch event {
                case .assigned(let partitions): print("now reading \(partitions)")
                case .revoked(let partitions): print("gave back \(partitions)")
                case .lost(let partitions): print("lost \(partitions) without committing")
                }
            }
        }
    }

    static func groupSettings() {
        var configuration = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092", groupId: "billing")
        configuration.assignors = [CooperativeStickyAssignor(), RangeAssignor()]
        configuration.groupInstanceId = "billing-worker-1"
        _ = configuration
    }

    static func positions(consumer: KafkaConsumer) async throws {
        let partition = TopicPartition(topic: "orders", partition: 0)
        try consumer.seek(partition, to: 42)
        try consumer.seekToBeginning([partition])
        try consumer.seekToEnd([partition])
        if let next = consumer.position(partition), let lag = consumer.lag(partition) {
            print("next offset \(next), \(lag) records behind the high watermark")
        }

        let since: Int64 = 1_767_225_600_000          // 2026-01-01T00:00:00Z
        let found = try await consumer.offsetsForTimes([partition: since])
        if let match = found[partition] {
            try consumer.seek(partition, to: match.offset)
        }
    }

    static func poll(consumer: KafkaConsumer) async throws {
        while !Task.isCancelled {
            let records = try await consumer.poll(timeout: .seconds(1))
            for record in records {
                try await handle(record)
            }
        }
    }

    static func lookups(consumer: KafkaConsumer) async throws {
        let partitions = try await consumer.partitionsFor("orders").map(\.topicPartition)
        let ends = try await consumer.endOffsets(partitions)
        let committed = try await consumer.committed(partitions)
        for partition in partitions {
            let behind = (ends[partition] ?? 0) - (committed[partition]?.offset ?? 0)
            print("\(partition): \(behind) records not committed yet")
        }
    }

    static func closing(consumer: KafkaConsumer) async {
        await consumer.close(timeout: .seconds(5), commitOffsets: false)
    }

    static func withoutGroup() throws {
        let consumer = try KafkaConsumer(configuration: ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092"))
        let partitions = [TopicPartition(topic: "orders", partition: 0), TopicPartition(topic: "orders", partition: 1)]
        try consumer.assign(partitions)
        try consumer.seekToBeginning(partitions)
    }
}

// MARK: - Delivery Guarantees

enum DeliveryGuaranteesSnippets {
    static func idempotent() {
        var configuration = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.acks = .all                    // the default
        configuration.enableIdempotence = true       // on by default with acks = .all; explicit, it also checks the rest
        configuration.deliveryTimeout = .seconds(120)
        _ = configuration
    }

    static func atLeastOnceInOrder() {
        var configuration = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.acks = .leader
        configuration.enableIdempotence = false
        configuration.maxInFlightRequestsPerConnection = 1   // no reordering through retries; duplicates remain possible
        _ = configuration
    }
}

// MARK: - Compression

enum CompressionSnippets {
    static func producer() {
        var configuration = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.compression = .zstd
        configuration.compressionLevel = 6
        configuration.linger = .milliseconds(20)     // fuller batches compress better

        let codec = CompressionCodec(name: "lz4") ?? .none
        configuration.compression = codec
    }
}

// MARK: - Administration

enum AdministrationSnippets {
    static func overview() async throws {
        let admin = try KafkaAdmin(configuration: AdminConfiguration(bootstrapServers: "127.0.0.1:9092"))

        try await admin.createTopics([NewTopic(name: "orders", partitions: 6, configs: ["retention.ms": "86400000"])])
        let orders = try await admin.describeTopics(["orders"])[0]
        for partition in orders.partitions {
            print(partition.partition, partition.leader ?? -1, partition.replicas, partition.inSyncReplicas)
        }
        try await admin.incrementalAlterConfigs([.topic("orders"): [.set("retention.ms", to: "3600000")]])

        for row in try await admin.groupLag("billing") {
            print("\(row.topic)-\(row.partition): committed \(row.committed ?? -1), end \(row.endOffset), lag \(row.lag ?? -1)")
        }
        try await admin.resetGroupOffsets("billing", topic: "orders", to: .earliest)   // the group must have no members
        await admin.close()
    }

    static func alreadyExists(_ admin: KafkaAdmin) async throws {
        do {
            try await admin.createTopics([NewTopic(name: "orders", partitions: 6)])
        } catch let error as KafkaAdminError where error.brokerErrorCode == .topicAlreadyExists {
            // created before: nothing to do
        }
    }
}

// MARK: - Testing with MockBroker (these run, against in-process brokers)

@Suite("Documentation snippets: Testing with MockBroker")
struct TestingWithMockBrokerSnippets {
    @Test func orderIsPublished() async throws {
        let broker = try await MockBroker.start()                  // a free port, a temporary data directory
        try broker.createTopic("orders", partitions: 3)

        let producer = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: broker.bootstrapServers))
        let metadata = try await producer.send(ProducerRecord(topic: "orders", key: "order-1", value: "created"))
        await producer.shutdown()

        #expect(broker.offsets(topic: "orders", partition: metadata.partition)?.highWatermark == 1)
        try await broker.stop()                                     // closes connections, removes the directory
    }

    @Test func retriesAreNotWrittenTwice() async throws {
        let broker = try await MockBroker.start()
        try broker.createTopic("payments")
        // The next two Produce requests to payments get NOT_LEADER_OR_FOLLOWER; the one after is written, but
        // its answer is lost.
        try broker.injectFault(Fault(api: .produce, topic: "payments", action: .error(.notLeaderOrFollower), count: 2))
        try broker.injectFault(Fault(api: .produce, topic: "payments", action: .dropResponse))

        let producer = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: broker.bootstrapServers))
        let metadata = try await producer.send(ProducerRecord(topic: "payments", value: "42.00"))
        await producer.shutdown()

        #expect(metadata.offset == 0)
        #expect(broker.offsets(topic: "payments", partition: 0)?.highWatermark == 1)   // idempotence: written once
        #expect(broker.pendingFaults.isEmpty)
        try await broker.stop()
    }

    @Test func writesSurviveALeaderChange() async throws {
        let cluster = try await MockCluster.start(brokers: 3)
        try cluster.createTopic("orders", partitions: 1, replicationFactor: 3)

        let producer = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: cluster.bootstrapServers))
        let first = try await producer.send(ProducerRecord(topic: "orders", value: "order-1"))

        let leader = try #require(cluster.leader(topic: "orders", partition: 0))
        try await cluster.stopBroker(leader)                      // controlled shutdown: leadership moves first
        let second = try await producer.send(ProducerRecord(topic: "orders", value: "order-2"))
        await producer.shutdown()

        #expect([first.offset, second.offset] == [0, 1])
        #expect(cluster.leader(topic: "orders", partition: 0) != leader)
        try await cluster.stop()
    }
}

// MARK: - Configuration Reference

enum ConfigurationReferenceSnippets {
    static func settings() {
        var producer = ProducerConfiguration(bootstrapServers: "broker-1:9092,broker-2:9092")
        producer.client.clientId = "checkout"
        producer.linger = .milliseconds(10)

        var consumer = ConsumerConfiguration(bootstrapServers: "broker-1:9092", groupId: "billing")
        consumer.client.requestTimeout = .seconds(10)
        consumer.maxPollInterval = .seconds(10 * 60)
        _ = (producer, consumer)
    }
}

/// The defaults the Configuration Reference's tables state, read from the code: a changed default fails here until
/// the article (and this test) say the new one.
@Suite("Documentation: the Configuration Reference's defaults")
struct ConfigurationReferenceDefaultsTests {
    @Test func clientDefaults() {
        let client = ClientConfiguration(bootstrapServers: "127.0.0.1:9092")
        #expect(client.bootstrapServers == [BrokerAddress(host: "127.0.0.1", port: 9092)])
        #expect(client.clientId == "swift-kafka")
        #expect(client.requestTimeout == .seconds(30))
        #expect(client.connectionSetupTimeout == .seconds(10))
        #expect(client.reconnectBackoff == .milliseconds(50))
        #expect(client.reconnectBackoffMax == .seconds(1))
        #expect(client.retryBackoff == .milliseconds(100))
        #expect(client.retryBackoffMax == .seconds(1))
        #expect(client.metadataMaxAge == .seconds(5 * 60))
        #expect(client.maxResponseBytes == 512 * 1024 * 1024)
        #expect(client.sendBufferBytes == -1)
        #expect(client.receiveBufferBytes == -1)
        #expect(client.metricsFactory == nil)
        #expect(client.tracer == nil)
        #expect(ClientConfiguration(bootstrapServers: "[::1]:9092").bootstrapServers == [BrokerAddress(host: "::1", port: 9092)])
    }

    @Test func producerDefaults() {
        let producer = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        #expect(producer.acks == .all)
        #expect(producer.enableIdempotence == nil)
        #expect(producer.isIdempotent)
        #expect(producer.linger == .milliseconds(5))
        #expect(producer.batchSize == 1_000_000)
        #expect(producer.bufferMemory == 33_554_432)
        #expect(producer.compression == .none)
        #expect(producer.compressionLevel == nil)
        #expect(producer.maxInFlightRequestsPerConnection == 5)
        #expect(producer.retries == 2_147_483_647)
        #expect(producer.deliveryTimeout == .seconds(2 * 60))
        #expect(producer.maxBlock == .seconds(60))
        #expect(producer.maxRequestSize == 1_048_576)
        if case .sticky = producer.partitioner {} else { Issue.record("partitioner is not .sticky") }
        #expect(producer.partitionerIgnoreKeys == false)
    }

    @Test func consumerDefaults() {
        let consumer = ConsumerConfiguration(bootstrapServers: "127.0.0.1:9092")
        #expect(consumer.groupId == nil)
        #expect(consumer.groupInstanceId == nil)
        #expect(consumer.autoOffsetReset == .latest)
        #expect(consumer.enableAutoCommit)
        #expect(consumer.autoCommitInterval == .seconds(5))
        #expect(consumer.fetchMinBytes == 1)
        #expect(consumer.fetchMaxWait == .milliseconds(500))
        #expect(consumer.fetchMaxBytes == 52_428_800)
        #expect(consumer.maxPartitionFetchBytes == 1_048_576)
        #expect(consumer.checkCRCs)
        #expect(consumer.isolationLevel == .readUncommitted)
        #expect(consumer.maxDecompressedBatchBytes == 67_108_864)
        #expect(consumer.sessionTimeout == .seconds(45))
        #expect(consumer.heartbeatInterval == .seconds(3))
        #expect(consumer.maxPollInterval == .seconds(5 * 60))
        #expect(consumer.assignors.map(\.name) == ["cooperative-sticky"])
        #expect(consumer.maxPollRecords == 500)
        #expect(consumer.defaultApiTimeout == .seconds(60))
    }
}

// MARK: - Observability

enum ObservabilitySnippets {
    static func handle(_ record: ConsumerRecord) async throws {}

    static func metrics(metricsFactory: TestMetrics) {
        var configuration = ProducerConfiguration(bootstrapServers: "127.0.0.1:9092")
        configuration.client.clientId = "checkout"
        configuration.client.metricsFactory = metricsFactory      // any swift-metrics MetricsFactory
        _ = configuration
    }

    static func logging(configuration: ProducerConfiguration) throws {
        var logger = Logger(label: "checkout.kafka")
        logger.logLevel = .debug
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        _ = producer
    }

    static func tracing(consumer: KafkaConsumer) async throws {
        for try await record in consumer.records {
            try await withSpan("handle order", context: record.traceContext ?? .topLevel, ofKind: .internal) { _ in
                try await handle(record)
            }
        }
    }
}

// MARK: - Migrating from swift-kafka-client

enum MigrationSnippets {
    static func process(_ record: ConsumerRecord) async throws {}

    static func producer(configuration: ProducerConfiguration, logger: Logger) async throws {
        let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: configuration, logger: logger)
        let id = try await producer.enqueue(ProducerRecord(topic: "orders", key: "order-1", value: "created"))
        for await case .deliveryReports(let reports) in events {
            for report in reports {
                if case .failure(let error) = report.result { logger.error("\(report.id): \(error)") }
            }
        }
        _ = id
    }

    static func consumer(logger: Logger) async throws {
        var configuration = ConsumerConfiguration(bootstrapServers: "localhost:9092", groupId: "billing")
        configuration.autoOffsetReset = .latest
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try consumer.subscribe(topics: ["orders"])
        for try await record in consumer.records {
            try await process(record)
        }
    }
}
