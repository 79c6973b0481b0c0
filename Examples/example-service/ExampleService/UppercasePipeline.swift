import KafkaClient
import Logging
import ServiceLifecycle

/// A consume-transform-produce service: reads `input` in a consumer group, writes each record's value in upper
/// case to `output` (same key, the input's position in a header), and commits the input only once the output is
/// acknowledged. At least once: a crash between the two repeats the records after the last commit, never loses
/// one. (Exactly once needs transactions.)
///
/// It is a swift-service-lifecycle `Service`: run it in a `ServiceGroup` with the consumer and the producer, and
/// graceful shutdown ends it after the batch in hand, committed.
public struct UppercasePipeline: Service {
    public let consumer: KafkaConsumer
    public let producer: KafkaProducer
    public let input: String
    public let output: String
    private let logger: Logger

    /// The consumer must have `enableAutoCommit = false` (the pipeline commits itself) and the producer
    /// `acks = .all` (the default).
    public init(consumer: KafkaConsumer, producer: KafkaProducer, input: String, output: String, logger: Logger) {
        self.consumer = consumer
        self.producer = producer
        self.input = input
        self.output = output
        self.logger = logger
    }

    public func run() async throws {
        try consumer.subscribe(topics: [input])
        // A fetched partition at a time: one flush and one commit per batch, not per record.
        // cancelWhenGracefulShutdown ends the loop between batches when the service group shuts down.
        try await cancelWhenGracefulShutdown {
            for try await batch in consumer.batches {
                for record in batch {
                    let position = "\(record.topic)-\(record.partition)@\(record.offset)"
                    try await producer.enqueue(ProducerRecord(
                        topic: output, key: record.key, value: record.valueString?.uppercased(),
                        headers: [RecordHeader(key: "source", value: position)]))
                }
                // Throws if any of them failed: the batch is then not committed, and the service stops.
                try await producer.flush()
                try await consumer.commit()
                logger.debug("transformed \(batch.count) records")
            }
        }
    }
}
