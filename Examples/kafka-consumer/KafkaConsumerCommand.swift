import ArgumentParser
import CKafkaToolProcess
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import KafkaClient
import KafkaProtocol
import KafkaToolSupport
import Logging
import NIOCore
import Synchronization

/// `kafka-consumer`: reads records from topics (in a group, or all partitions without one) and prints them;
/// progress and a summary go to stderr.
@main
struct KafkaConsumerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-consumer",
        abstract: "Consume records from Kafka topics and print them."
    )

    @Option(name: .customLong("bootstrap-server"), help: "HOST:PORT of a broker (comma-separated for several).")
    var bootstrapServer: String

    @Option(name: .customLong("topic"), help: "A topic to read (repeatable).")
    var topics: [String]

    @Option(help: "Consumer group; without it every partition of the topics is read, outside any group.")
    var group: String?

    @Flag(name: .customLong("from-beginning"), help: "Start from the earliest offset when nothing is committed.")
    var fromBeginning = false

    @Option(help: "Exit after this many records.")
    var count: Int?

    @Option(name: .customLong("timeout-ms"), help: "Exit after this long without a record.")
    var timeoutMs: Int?

    @Option(help: "value, kv or json.")
    var format = "value"

    @Option(help: "auto, sync or none: how offsets are committed (auto: enable.auto.commit).")
    var commit = "auto"

    @Option(help: "range, roundrobin or cooperative-sticky.")
    var assignor = "cooperative-sticky"

    @Option(name: .customLong("group-instance-id"), help: "Static membership id (group.instance.id).")
    var groupInstanceId: String?

    @Option(name: .customLong("max-partition-fetch-bytes"), help: "max.partition.fetch.bytes: the most one fetch returns of a partition.")
    var maxPartitionFetchBytes: Int32 = ConsumerConfiguration(bootstrapServers: "").maxPartitionFetchBytes

    @Option(name: .customLong("fetch-max-bytes"), help: "fetch.max.bytes: the most one fetch returns in all.")
    var fetchMaxBytes: Int32 = ConsumerConfiguration(bootstrapServers: "").fetchMaxBytes

    @Flag(help: "Measure end-to-end latency from values stamped `LATENCY:<microseconds since the epoch>` (kafka-producer --latency, rdkafka_performance -l) and report its percentiles. Records are then read on the consumer's event loop (KafkaConsumer.executor), as a latency-sensitive application reads them: no thread is woken between a fetch's answer and its records.")
    var latency = false

    @Flag(name: .customLong("stats-json"), help: "Print the summary as one JSON object on the last line of stderr.")
    var statsJSON = false

    @Option(name: .customLong("receive-buffer-bytes"), help: "receive.buffer.bytes: SO_RCVBUF of each broker connection (default -1: the system's automatic sizing).")
    var receiveBufferBytes: Int?

    @Option(name: .customLong("log-level"), help: "Client log level.")
    var logLevel = "warning"

    func validate() throws {
        // The process's malloc settings, applied when the executable is loaded (see kafka_tool_process.c).
        kafka_tool_process_settings_linked()
        guard !topics.isEmpty else { throw ValidationError("give at least one --topic") }
        guard ["value", "kv", "json"].contains(format) else { throw ValidationError("--format must be value, kv or json") }
        guard ["auto", "sync", "none"].contains(commit) else { throw ValidationError("--commit must be auto, sync or none") }
        guard ["range", "roundrobin", "cooperative-sticky"].contains(assignor) else {
            throw ValidationError("--assignor must be range, roundrobin or cooperative-sticky")
        }
        if groupInstanceId != nil && group == nil { throw ValidationError("--group-instance-id needs --group") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = ConsumerConfiguration(bootstrapServers: bootstrapServer, groupId: group)
        configuration.client.clientId = "kafka-consumer"
        configuration.autoOffsetReset = fromBeginning ? .earliest : .latest
        configuration.enableAutoCommit = commit == "auto"
        configuration.groupInstanceId = groupInstanceId
        configuration.maxPartitionFetchBytes = maxPartitionFetchBytes
        configuration.fetchMaxBytes = fetchMaxBytes
        if let receiveBufferBytes { configuration.client.receiveBufferBytes = receiveBufferBytes }
        configuration.assignors = switch assignor {
        case "range": [RangeAssignor()]
        case "roundrobin": [RoundRobinAssignor()]
        default: [CooperativeStickyAssignor()]
        }
        let consumer = try KafkaConsumer(configuration: configuration, logger: Logger(label: "kafka-consumer"))
        if group != nil {
            try consumer.subscribe(topics: topics)
        } else {
            try consumer.assign(try await allPartitions(of: topics))
        }

        // SIGINT/SIGTERM: stop reading, commit and leave cleanly.
        let stop = StopSignal()
        for signal in [SIGINT, SIGTERM] { stop.watch(signal) }

        // Options are read once: a property wrapper's getter per record costs more than handing out the record.
        let format = OutputFormat(rawValue: self.format) ?? .value
        let syncCommit = commit == "sync"
        let limit = count ?? .max
        let measureLatency = latency
        let start = ContinuousClock.now
        // With --latency, read where fetches arrive (no hand-off to a pool thread per fetch, about 0.06 ms less at
        // the median); otherwise on the pool, so that reading 100-byte records overlaps receiving the next fetch.
        let reading = Task(executorPreference: measureLatency ? consumer.executor : nil) { () throws -> ReadSummary in
            var output = RecordOutput(format: format)
            var summary = ReadSummary()
            var latencies = LatencyRecorder(enabled: measureLatency)
            defer { output.flush() }
            for try await record in consumer.records {
                latencies.add(record.value)
                output.append(record)
                summary.records += 1
                summary.bytes += (record.key?.readableBytes ?? 0) + (record.value?.readableBytes ?? 0)
                stop.recordArrived()
                if syncCommit { try await consumer.commit() }
                // The clock is read every few thousand records, not per record.
                if summary.records & 4095 == 0 {
                    summary.lastRecord = .now
                    if summary.lastRecord - summary.lastProgress > .seconds(1) {
                        output.flush()
                        writeToStandardError("\(summary.records) records\n")
                        summary.lastProgress = summary.lastRecord
                    }
                }
                if summary.records >= limit { break }
            }
            summary.lastRecord = .now
            summary.latency = latencies.percentiles()
            return summary
        }
        let idle = timeoutMs.map { Duration.milliseconds($0) }
        let summary: ReadSummary = try await withThrowingTaskGroup(of: ReadSummary?.self) { group in
            group.addTask { try await reading.value }
            group.addTask {
                await stop.wait(idleTimeout: idle)
                reading.cancel()
                return nil
            }
            var result = ReadSummary()
            for try await outcome in group {
                if let outcome {
                    result = outcome
                    group.cancelAll()
                    break
                }
            }
            return result
        }
        await consumer.close()
        // The rate is over the time records were arriving: an idle wait at the end (--timeout-ms) does not count.
        let elapsed = (summary.records > 0 ? summary.lastRecord : ContinuousClock.now) - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(summary.records) / seconds : 0
        let megabytes = seconds > 0 ? Double(summary.bytes) / 1e6 / seconds : 0
        let latencyText = summary.latency.map {
            ", end-to-end latency p50 \(fixed($0.p50, 2)) ms p99 \(fixed($0.p99, 2)) ms max \(fixed($0.max, 2)) ms"
        } ?? ""
        writeToStandardError("\(summary.records) records, \(summary.bytes) bytes in \(fixed(seconds, 2)) s: "
                             + "\(fixed(rate, 0)) records/s, \(fixed(megabytes, 2)) MB/s\(latencyText)\n")
        if statsJSON {
            let latencyJSON = summary.latency.map {
                #","latency_p50_ms":\#(fixed($0.p50, 3)),"latency_p99_ms":\#(fixed($0.p99, 3)),"latency_max_ms":\#(fixed($0.max, 3))"#
            } ?? ""
            writeToStandardError(#"{"records":\#(summary.records),"bytes":\#(summary.bytes),"seconds":\#(fixed(seconds, 3)),"#
                                 + #""records_per_second":\#(fixed(rate, 1)),"mb_per_second":\#(fixed(megabytes, 3))"#
                                 + latencyJSON + "}\n")
        }
    }

    private func allPartitions(of topics: [String]) async throws -> [TopicPartition] {
        let address = BrokerAddress(bootstrapServer.split(separator: ",").first.map(String.init) ?? bootstrapServer)
        guard let address else { throw ValidationError("bad --bootstrap-server") }
        let connection = try await BrokerConnection.connect(host: address.host, port: address.port)
        defer { Task { await connection.close() } }
        let metadata = try await connection.send(MetadataRequest(topics: topics.map { .init(name: $0) }, allowAutoTopicCreation: false))
        return metadata.topics.flatMap { topic in
            topic.partitions.map { TopicPartition(topic: topic.name ?? "", partition: $0.partitionIndex) }
        }
    }

}

/// What the reading loop counted.
struct ReadSummary: Sendable {
    var latency: LatencyRecorder.Percentiles?
    var records = 0
    var bytes = 0
    var lastRecord = ContinuousClock.now
    var lastProgress = ContinuousClock.now
}

/// Ends the run on SIGINT/SIGTERM or after an idle timeout. The reading loop only bumps a counter per record;
/// the watcher compares it every 50 ms.
final class StopSignal: @unchecked Sendable {
    // @unchecked: `sources` is only appended to by `watch`, before the reading starts; it just keeps them alive.
    private let arrived = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private var sources: [any DispatchSourceSignal] = []

    func watch(_ signalNumber: Int32) {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { [weak self] in self?.stopped.store(true, ordering: .relaxed) }
        source.resume()
        sources.append(source)
    }

    func recordArrived() {
        arrived.wrappingAdd(1, ordering: .relaxed)
    }

    func wait(idleTimeout: Duration?) async {
        var seen = arrived.load(ordering: .relaxed)
        var lastChange = ContinuousClock.now
        while !Task.isCancelled {
            if stopped.load(ordering: .relaxed) { return }
            let now = ContinuousClock.now
            let count = arrived.load(ordering: .relaxed)
            if count != seen {
                seen = count
                lastChange = now
            } else if let idleTimeout, now - lastChange > idleTimeout {
                return
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
