import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import Logging
import MockBroker
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Peers

/// The independent Kafka implementations these tests talk to, found on `PATH`.
///
/// A test that needs a peer is enabled when the peer is installed, or when `CI` is set: on CI a missing peer is a
/// failure (`require...`), elsewhere the test is skipped with the reason shown.
enum Peers {
    static let isCI = ProcessInfo.processInfo.environment["CI"] != nil

    /// `kcat` (librdkafka), from Debian's `kcat` package (older releases call it `kafkacat`).
    static let kcat: String? = executableOnPath("kcat") ?? executableOnPath("kafkacat")

    static let python3: String? = executableOnPath("python3")

    /// Whether `python3` can import kafka-python and the codec modules its producer needs.
    static let hasKafkaPython: Bool = {
        guard let python3 else { return false }
        return runBlocking(python3, ["-c", "import kafka, lz4.frame, snappy, zstandard"], limitSeconds: 60) == 0
    }()

    static let kcatMissing: Comment = "kcat is not installed (scripts/install-dependencies.sh installs it); with CI set this fails instead"
    static let kafkaPythonMissing: Comment =
        "python3 with kafka-python, lz4, python-snappy and zstandard is not installed (scripts/install-dependencies.sh installs them); with CI set this fails instead"

    static func requireKcat(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        try #require(kcat, "kcat is required here: install Debian's kcat package (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
    }

    static func requireKafkaPython(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let python3 = try #require(python3, "python3 is required here (scripts/install-dependencies.sh)",
                                   sourceLocation: sourceLocation)
        try #require(hasKafkaPython, "kafka-python, lz4, python-snappy and zstandard are required here (scripts/install-dependencies.sh)",
                     sourceLocation: sourceLocation)
        return python3
    }

    private static func executableOnPath(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs a short command synchronously (for trait conditions) and returns its exit status, or nil when it did
    /// not finish within `limitSeconds` (it is then killed).
    private static func runBlocking(_ executable: String, _ arguments: [String], limitSeconds: Int) -> Int32? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        for _ in 0..<(limitSeconds * 50) where process.isRunning {
            usleep(20_000)
        }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}

/// This package's root, found from this file's path.
let packageRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // MockBrokerInteropTests
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

/// The helper scripts next to the tests (excluded from the Swift target).
let scriptsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts").path

// MARK: - Child processes

struct ProcessFailure: Error, CustomStringConvertible {
    var description: String
}

/// What a finished child process left behind.
struct ProcessOutput: Sendable {
    var command: String
    var status: Int32
    var exitedNormally: Bool
    var stdout: Data
    var stderr: String

    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var succeeded: Bool { exitedNormally && status == 0 }
    /// For expectation messages.
    var summary: String { "`\(command)` exited with \(exitedNormally ? "status" : "signal") \(status); stderr:\n\(stderr)" }
}

/// Runs `executable` to completion with `stdin` as its input. Output goes through files, so a large output cannot
/// block the child. A child still running after `limit` (a safety bound only) is killed by its PID and reported
/// as a failure.
func runProcess(_ executable: String, _ arguments: [String], stdin: Data = Data(),
                limit: Duration = .seconds(60)) async throws -> ProcessOutput {
    let directory = try makeTemporaryDirectory("interop-process")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let inputPath = "\(directory)/stdin", outputPath = "\(directory)/stdout", errorPath = "\(directory)/stderr"
    try stdin.write(to: URL(fileURLWithPath: inputPath))
    _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
    let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: inputPath))
    let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
    let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
    defer {
        try? input.close()
        try? output.close()
        try? errors.close()
    }

    let command = ([executable] + arguments).map { $0.count > 80 ? String($0.prefix(77)) + "..." : $0 }.joined(separator: " ")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let pid = process.processIdentifier
    let polls = Int(limit.components.seconds) * 50
    for _ in 0..<polls where process.isRunning {
        try? await Task.sleep(for: .milliseconds(20))
    }
    if process.isRunning {
        kill(pid, SIGKILL)
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        throw ProcessFailure(description: "`\(command)` did not finish within \(limit); killed. stderr:\n\(stderr)")
    }
    process.waitUntilExit()
    return ProcessOutput(
        command: command,
        status: process.terminationStatus,
        exitedNormally: process.terminationReason == .exit,
        stdout: (try? Data(contentsOf: URL(fileURLWithPath: outputPath))) ?? Data(),
        stderr: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
    )
}

/// A fresh directory under the temporary directory; the caller removes it.
func makeTemporaryDirectory(_ label: String) throws -> String {
    let path = NSTemporaryDirectory() + "/\(label)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Runs `body` with a fresh temporary directory and removes it afterwards.
func withTemporaryDirectory<T>(_ label: String, _ body: (String) async throws -> T) async throws -> T {
    let directory = try makeTemporaryDirectory(label)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    return try await body(directory)
}

// MARK: - The in-process broker

let interopLogger: Logger = {
    var logger = Logger(label: "mock-broker-interop")
    logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
    return logger
}()

/// Starts an in-process broker on a free loopback port for the duration of `body`, and always stops it.
func withBroker<T>(_ configure: (inout MockBrokerConfiguration) -> Void = { _ in },
                   _ body: (MockBroker) async throws -> T) async throws -> T {
    var configuration = MockBrokerConfiguration(host: "127.0.0.1", port: 0)
    configuration.eventLoopThreads = 2
    configure(&configuration)
    let broker = try await MockBroker.start(configuration: configuration, logger: interopLogger)
    do {
        let result = try await body(broker)
        try await broker.stop()
        return result
    } catch {
        try? await broker.stop()
        throw error
    }
}

// MARK: - The `mock-broker` executable

enum MockBrokerExecutable {
    /// The built `mock-broker`: next to the running test executable (what `swift build --build-tests` and
    /// `swift test` produce), else under the package's default build directory. `MOCK_BROKER_BINARY` overrides.
    static func locate() throws -> String {
        var candidates: [String] = []
        if let explicit = ProcessInfo.processInfo.environment["MOCK_BROKER_BINARY"] { candidates.append(explicit) }
        var directories: [URL] = []
        if let first = CommandLine.arguments.first {
            let url = URL(fileURLWithPath: first, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
            directories.append(url.deletingLastPathComponent())
            directories.append(url.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        if let executable = Bundle.main.executableURL { directories.append(executable.deletingLastPathComponent()) }
        for bundle in Bundle.allBundles where bundle.bundleURL.pathExtension == "xctest" {
            directories.append(bundle.bundleURL.deletingLastPathComponent())
        }
        directories.append(packageRoot.appendingPathComponent(".build/debug"))
        candidates += directories.map { $0.appendingPathComponent("mock-broker").path }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        throw ProcessFailure(description: """
            the mock-broker executable was not found (looked at: \(candidates.joined(separator: ", "))). \
            Build it first: `swift build --build-tests` (or `swift build --product mock-broker`), \
            or point MOCK_BROKER_BINARY at it.
            """)
    }
}

/// A running `mock-broker` child process, its output captured in files.
final class BrokerProcess: @unchecked Sendable {
    let process: Process
    let pid: Int32
    let port: Int
    let listeningLine: String
    private let outputDirectory: String
    private let handles: [FileHandle]

    var host: String { "127.0.0.1" }
    var bootstrapServers: String { "\(host):\(port)" }

    private init(process: Process, port: Int, listeningLine: String, outputDirectory: String, handles: [FileHandle]) {
        self.process = process
        pid = process.processIdentifier
        self.port = port
        self.listeningLine = listeningLine
        self.outputDirectory = outputDirectory
        self.handles = handles
    }

    /// Everything the broker printed on stdout so far.
    var stdout: String { (try? String(contentsOfFile: "\(outputDirectory)/stdout", encoding: .utf8)) ?? "" }
    /// Its log.
    var stderr: String { (try? String(contentsOfFile: "\(outputDirectory)/stderr", encoding: .utf8)) ?? "" }

    /// Starts `mock-broker --host 127.0.0.1 --port 0 --data-dir dataDirectory arguments...` and waits (bounded) for
    /// the line announcing its address.
    static func launch(dataDirectory: String, arguments: [String] = []) async throws -> BrokerProcess {
        let binary = try MockBrokerExecutable.locate()
        let outputDirectory = try makeTemporaryDirectory("mock-broker-process")
        let outputPath = "\(outputDirectory)/stdout", errorPath = "\(outputDirectory)/stderr"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDirectory, "--log-level", "info"] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = errors
        try process.run()

        // Up to 30 s (a safety bound) for the address line.
        for _ in 0..<1500 {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            if let newline = text.firstIndex(of: "\n") {
                let line = String(text[..<newline])
                let broker = try? BrokerProcess(process: process, port: parsePort(line), listeningLine: line,
                                                outputDirectory: outputDirectory, handles: [output, errors])
                if let broker { return broker }
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw ProcessFailure(description: "mock-broker printed an unexpected first line: \(line)")
            }
            if !process.isRunning { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        let log = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: outputDirectory)
        throw ProcessFailure(description: "mock-broker did not announce its address (status \(process.terminationStatus)); stderr:\n\(log)")
    }

    /// `mock-broker listening on 127.0.0.1:PORT` → PORT.
    static func parsePort(_ line: String) throws -> Int {
        let prefix = "mock-broker listening on 127.0.0.1:"
        guard line.hasPrefix(prefix), let port = Int(line.dropFirst(prefix.count)), port > 0, port < 65536 else {
            throw ProcessFailure(description: "not an address line: \(line)")
        }
        return port
    }

    var isRunning: Bool { process.isRunning }

    /// Sends `signal` to this process (by its PID) if it is still running.
    func send(_ signal: Int32) {
        if process.isRunning { kill(pid, signal) }
    }

    /// Waits (up to `limit`, a safety bound) for the process to end; nil if it is still running.
    func waitForExit(limit: Duration = .seconds(30)) async -> (exitedNormally: Bool, status: Int32)? {
        for _ in 0..<(Int(limit.components.seconds) * 50) where process.isRunning {
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard !process.isRunning else { return nil }
        process.waitUntilExit()
        return (process.terminationReason == .exit, process.terminationStatus)
    }

    /// Kills the process if it still runs and removes its captured output. Always called by ``withBrokerProcess``.
    func cleanUp() async {
        if process.isRunning {
            kill(pid, SIGKILL)
            _ = await waitForExit(limit: .seconds(10))
        }
        for handle in handles { try? handle.close() }
        try? FileManager.default.removeItem(atPath: outputDirectory)
    }

    func connect() async throws -> BrokerConnection {
        try await BrokerConnection.connect(host: host, port: port, configuration: .interop)
    }
}

/// Runs a `mock-broker` child process for the duration of `body`; whatever happens, it is not left running.
func withBrokerProcess<T>(dataDirectory: String, arguments: [String] = [],
                          _ body: (BrokerProcess) async throws -> T) async throws -> T {
    let broker = try await BrokerProcess.launch(dataDirectory: dataDirectory, arguments: arguments)
    do {
        let result = try await body(broker)
        await broker.cleanUp()
        return result
    } catch {
        await broker.cleanUp()
        throw error
    }
}

// MARK: - Talking to a broker with this package's connection

extension BrokerConnection.Configuration {
    static var interop: Self {
        var configuration = Self()
        configuration.clientId = "mock-broker-interop-tests"
        configuration.requestTimeout = .seconds(15)
        return configuration
    }
}

extension MockBroker {
    func connect() async throws -> BrokerConnection {
        try await BrokerConnection.connect(host: host, port: port, configuration: .interop)
    }
}

/// A record as a test writes or expects it: text keys, values and header values (nil: null).
struct TextRecord: Hashable, Sendable, CustomStringConvertible {
    var key: String?
    var value: String?
    var headers: [TextHeader] = []
    var timestamp: Int64 = 1_700_000_000_000

    var description: String {
        "key=\(key.map { "\"\($0)\"" } ?? "null") value=\(value.map { "\"\($0.prefix(60))\"" } ?? "null") headers=\(headers)"
    }
}

struct TextHeader: Hashable, Sendable, CustomStringConvertible {
    var name: String
    var value: String?
    var description: String { "\(name)=\(value ?? "null")" }
}

/// A record read back from the broker, with where it is stored.
struct StoredRecord: Hashable, Sendable {
    var partition: Int32
    var offset: Int64
    var record: TextRecord
}

extension Record {
    var text: TextRecord {
        TextRecord(key: key.map { String(buffer: $0) }, value: value.map { String(buffer: $0) },
                   headers: headers.map { TextHeader(name: $0.key, value: $0.value.map { String(buffer: $0) }) },
                   timestamp: timestamp)
    }
}

extension BrokerConnection {
    /// Produces `records` as one batch with `acks` and returns the partition's answer (error code, base offset).
    func produce(_ records: [TextRecord], topic: String, partition: Int32 = 0, codec: CompressionCodec = .none,
                 acks: Int16 = -1) async throws -> ProduceResponse.PartitionProduceResponse {
        var builder = RecordBatchBuilder(capacity: 4096)
        for record in records {
            builder.append(timestamp: record.timestamp, key: record.key.map { ByteBuffer(string: $0) },
                           value: record.value.map { ByteBuffer(string: $0) },
                           headers: record.headers.map { RecordHeader(key: $0.name, value: $0.value.map { ByteBuffer(string: $0) }) })
        }
        let batch = try builder.build(compression: codec)
        let request = ProduceRequest(acks: acks, timeoutMs: 10_000, topicData: [
            .init(name: topic, partitionData: [.init(index: partition, records: RecordSet(batch))]),
        ])
        let response = try await send(request)
        return try #require(response.responses.first?.partitionResponses.first, "no partition in the Produce response")
    }

    /// Metadata for `topic` (nil when the broker does not know it); creates it when the broker auto-creates.
    func metadata(topic: String, create: Bool = false) async throws -> MetadataResponse.MetadataResponseTopic? {
        let response = try await send(MetadataRequest(topics: [.init(name: topic)], allowAutoTopicCreation: create))
        return response.topics.first { $0.name == topic && $0.errorCode == 0 }
    }

    /// Every batch of one partition from `offset` up to the high watermark the broker reports (bounded number of
    /// fetches), and that high watermark.
    func fetchAll(topic: String, partition: Int32 = 0, from offset: Int64 = 0) async throws -> (batches: [RecordBatch], highWatermark: Int64) {
        let topicId = try await send(MetadataRequest(topics: [.init(name: topic)], allowAutoTopicCreation: false))
            .topics.first?.topicId ?? .zero
        var batches: [RecordBatch] = []
        var next = offset
        var highWatermark: Int64 = -1
        for _ in 0..<200 {
            let request = FetchRequest(
                maxWaitMs: 0, minBytes: 1, maxBytes: 8 << 20, isolationLevel: 0,
                topics: [.init(topic: topic, topicId: topicId, partitions: [
                    .init(partition: partition, fetchOffset: next, partitionMaxBytes: 8 << 20),
                ])]
            )
            let data = try #require(try await send(request).responses.first?.partitions.first, "no partition in the Fetch response")
            try #require(data.errorCode == 0, "Fetch of \(topic)-\(partition) at \(next): \(KafkaErrorCode(rawValue: data.errorCode))")
            highWatermark = data.highWatermark
            var reader = RecordBatchReader(data.records?.buffer ?? ByteBuffer())
            while let batch = try reader.next() {
                try batch.verifyChecksum()
                batches.append(batch)
                next = max(next, batch.nextOffset)
            }
            if next >= highWatermark { break }
        }
        return (batches, highWatermark)
    }

    /// The records of one partition from `offset` to the high watermark.
    func fetchRecords(topic: String, partition: Int32 = 0, from offset: Int64 = 0) async throws -> [StoredRecord] {
        try await fetchAll(topic: topic, partition: partition, from: offset).batches
            .flatMap { try $0.allRecords() }
            .filter { $0.offset >= offset }
            .map { StoredRecord(partition: partition, offset: $0.offset, record: $0.text) }
    }
}

// MARK: - librdkafka's default partitioner

/// CRC-32 (IEEE, as zlib computes it): librdkafka's `consistent` partitioners pick `crc32(key) % partitions`.
func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
        }
    }
    return ~crc
}
