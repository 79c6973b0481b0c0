import ArgumentParser
import ExampleService
import KafkaClient
import Logging
import ServiceLifecycle

/// `example-service`: the consume-transform-produce pipeline (``UppercasePipeline``) as a process: a producer, a
/// consumer and the pipeline in one `ServiceGroup`, which SIGINT and SIGTERM shut down gracefully (the batch in
/// hand is finished and committed, the consumer leaves its group, the producer delivers what it holds).
@main
struct ExampleServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "example-service",
        abstract: "Reads --input in a consumer group, writes each value upper-cased to --output, commits after delivery.")

    @Option(name: .customLong("bootstrap-server"), help: "HOST:PORT of a broker (comma-separated for several).")
    var bootstrapServer = "127.0.0.1:9092"

    @Option(help: "Topic to read.")
    var input: String

    @Option(help: "Topic to write.")
    var output: String

    @Option(help: "Consumer group id.")
    var group = "example-service"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() async throws {
        var logger = Logger(label: "example-service")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        var consumerConfiguration = ConsumerConfiguration(bootstrapServers: bootstrapServer, groupId: group)
        consumerConfiguration.enableAutoCommit = false // the pipeline commits after the output is acknowledged
        consumerConfiguration.autoOffsetReset = .earliest
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let producer = try KafkaProducer(configuration: ProducerConfiguration(bootstrapServers: bootstrapServer), logger: logger)
        let pipeline = UppercasePipeline(consumer: consumer, producer: producer, input: input, output: output, logger: logger)

        // The pipeline stops first, then the consumer (leaving the group) and the producer (delivering what it
        // holds): services shut down in reverse order of this list.
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: producer),
                .init(service: consumer),
                .init(service: pipeline, successTerminationBehavior: .gracefullyShutdownGroup,
                      failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        logger.info("example-service: \(input) -> \(output) on \(bootstrapServer), group \(self.group)")
        try await group.run()
    }
}
