import ArgumentParser
import Foundation
import KafkaClient
import KafkaProtocol
import Logging
import NIOCore

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

    @Flag(name: .customLong("stats-json"), help: "Print the summary as one JSON object on the last line of stderr.")
    var statsJSON = false

    @Option(name: .customLong("log-level"), help: "Client log level.")
    var logLevel = "warning"

    func validate() throws {
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

        let output = OutputBuffer()
        let start = ContinuousClock.now
        var records = 0
        var bytes = 0
        var lastProgress = ContinuousClock.now
        let reading = Task {
            for try await record in consumer.records {
                output.write(render(record))
                records += 1
                bytes += (record.key?.readableBytes ?? 0) + (record.value?.readableBytes ?? 0)
                stop.recordArrived()
                if commit == "sync" { try await consumer.commit() }
                if ContinuousClock.now - lastProgress > .seconds(1) {
                    output.flush()
                    FileHandle.standardError.write(Data("\(records) records\n".utf8))
                    lastProgress = .now
                }
                if let count, records >= count { break }
            }
            return (records, bytes)
        }
        let idle = timeoutMs.map { Duration.milliseconds($0) }
        let (read, readBytes): (Int, Int) = try await withThrowingTaskGroup(of: (Int, Int)?.self) { group in
            group.addTask { try await reading.value }
            group.addTask {
                await stop.wait(idleTimeout: idle)
                reading.cancel()
                return nil
            }
            var result: (Int, Int) = (0, 0)
            for try await outcome in group {
                if let outcome {
                    result = outcome
                    group.cancelAll()
                    break
                }
            }
            return result
        }
        output.flush()
        await consumer.close()
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Double(read) / seconds : 0
        let megabytes = seconds > 0 ? Double(readBytes) / 1e6 / seconds : 0
        FileHandle.standardError.write(Data(String(format: "%d records, %d bytes in %.2f s: %.0f records/s, %.2f MB/s\n",
                                                   read, readBytes, seconds, rate, megabytes).utf8))
        if statsJSON {
            FileHandle.standardError.write(Data(String(format: #"{"records":%d,"bytes":%d,"seconds":%.3f,"records_per_second":%.1f,"mb_per_second":%.3f}"#,
                                                       read, readBytes, seconds, rate, megabytes).utf8 + [0x0A]))
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

    private func render(_ record: ConsumerRecord) -> String {
        let key = record.key.map { String(buffer: $0) }
        let value = record.value.map { String(buffer: $0) }
        switch format {
        case "kv":
            return "\(key ?? "null")\t\(value ?? "null")"
        case "json":
            var object: [String: Any] = [
                "topic": record.topic, "partition": Int(record.partition), "offset": record.offset, "timestamp": record.timestamp,
                "key": key as Any? ?? NSNull(), "value": value as Any? ?? NSNull(),
            ]
            object["headers"] = Array(record.headers).map { header -> [String: Any] in
                ["key": header.key, "value": header.value.map { String(buffer: $0) } as Any? ?? NSNull()]
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        default:
            return value ?? "null"
        }
    }
}

/// Buffered stdout (records are many and small).
final class OutputBuffer: @unchecked Sendable {
    private var pending = ""

    func write(_ line: String) {
        pending += line
        pending += "\n"
        if pending.utf8.count > 64 * 1024 { flush() }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        FileHandle.standardOutput.write(Data(pending.utf8))
        pending = ""
    }
}

/// Ends the run on SIGINT/SIGTERM or after an idle timeout.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var lastRecord = ContinuousClock.now
    private var stopped = false
    private var sources: [any DispatchSourceSignal] = []

    func watch(_ signalNumber: Int32) {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { [weak self] in self?.lock.withLock { self?.stopped = true } }
        source.resume()
        sources.append(source)
    }

    func recordArrived() {
        lock.withLock { lastRecord = .now }
    }

    func wait(idleTimeout: Duration?) async {
        while !Task.isCancelled {
            let (stop, last) = lock.withLock { (stopped, lastRecord) }
            if stop { return }
            if let idleTimeout, ContinuousClock.now - last > idleTimeout { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}
