import ExampleService
import KafkaClient
import KafkaTestSupport
import Logging
import MockBroker
import ServiceLifecycle
import Testing

@Suite("The example consume-transform-produce service")
struct ExampleServiceTests {
    /// Starts the pipeline with its consumer and producer in a ServiceGroup; returns the group's task.
    static func startPipeline(_ broker: MockBroker) throws -> (task: Task<Void, any Error>, group: ServiceGroup) {
        let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "uppercase") {
            $0.enableAutoCommit = false
        }, logger: testLogger)
        let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
        let pipeline = UppercasePipeline(consumer: consumer, producer: producer, input: "words", output: "WORDS", logger: testLogger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: producer), .init(service: consumer),
                       .init(service: pipeline, successTerminationBehavior: .gracefullyShutdownGroup,
                             failureTerminationBehavior: .gracefullyShutdownGroup)],
            logger: testLogger))
        return (Task { try await group.run() }, group)
    }

    @Test("every input record comes out transformed exactly once across a graceful restart of the service, and the input is committed to its end")
    func transformsEveryRecordOnceAcrossARestart() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("words", partitions: 3)
            try broker.createTopic("WORDS", partitions: 3)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            for index in 0..<1_000 {
                try await producer.enqueue(ProducerRecord(topic: "words", key: "k\(index % 7)", value: "word \(index)"))
            }
            try await producer.flush()

            let first = try Self.startPipeline(broker)
            // Let it work part of the way, then stop it as SIGTERM would.
            let output = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "checker"), logger: testLogger)
            try output.subscribe(topics: ["WORDS"])
            var seen = try await consume(output, count: 300)
            await first.group.triggerGracefulShutdown()
            try await first.task.value

            // More input while it is down, then a new instance picks up from the commits.
            for index in 1_000..<1_200 {
                try await producer.enqueue(ProducerRecord(topic: "words", key: "k\(index % 7)", value: "word \(index)"))
            }
            try await producer.flush()
            await producer.shutdown()
            let second = try Self.startPipeline(broker)
            seen += try await consume(output, count: 1_200 - seen.count, within: 60)
            // Nothing more comes: no duplicates beyond the 1,200.
            seen += try await output.poll(timeout: .milliseconds(500))
            await second.group.triggerGracefulShutdown()
            try await second.task.value
            await output.close()

            let values = seen.compactMap(\.valueString)
            #expect(values.count == 1_200)
            #expect(Set(values) == Set((0..<1_200).map { "WORD \($0)" }), "every record transformed, none twice")
            #expect(seen.allSatisfy { $0.headers["source"] != nil }, "each output names its input position")
            let committed = try await broker.committedOffsets(group: "uppercase")
            #expect(committed.map(\.offset).reduce(0, +) == 1_200, "the input is committed to its end")
        }
    }
}
