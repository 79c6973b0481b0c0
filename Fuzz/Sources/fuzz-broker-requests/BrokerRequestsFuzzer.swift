import Foundation
import Glibc
import Logging
import MockBroker

// Input: one request frame without its size prefix (request header, then body), as a client writes it; the
// harness adds the size. One broker serves the whole run, so state built by earlier inputs (topics, records,
// groups, fetch sessions) is there for later ones, as it would be for a real client.
//
// After each frame the harness sends an ApiVersions request on the same connection: the broker answers in
// order, so its answer means the fuzzed request was handled (acks=0 produce requests get no answer of their
// own). A frame the broker refuses closes that connection, which is allowed; the harness reconnects. The broker
// must never crash and must keep answering new connections.
//
// At exit the harness prints a summary line, then stops the broker (requests still waiting are answered then).
// A crash after that line happened while stopping: the input libFuzzer saves is only the last one it ran, and
// the cause is a request left waiting, such as a long-polling fetch.

/// Started by `LLVMFuzzerInitialize`, before the first input.
nonisolated(unsafe) var harness: BrokerHarness?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(
    _ argc: UnsafeMutablePointer<Int32>?,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?
) -> Int32 {
    harness = BrokerHarness()
    atexit { harness?.shutdown() }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let frame = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    harness!.handle(frame: frame)
    return 0
}

final class BrokerHarness {
    /// How long a request may take before the harness gives up on its connection: long enough for any request
    /// that does not wait on purpose, short enough that long polls do not slow fuzzing down.
    static let answerTimeoutMilliseconds: Int64 = 100
    /// How long a fresh connection may wait for ApiVersions before the broker counts as hung. The broker runs one
    /// event loop, so this is how long one request may keep it busy: creating the 10,000 partitions Kafka allows
    /// in one request takes tens of seconds on a slow disk.
    static let livenessTimeoutMilliseconds: Int64 = 60_000
    /// Every this many inputs, topics with `manyPartitions` or more are deleted, and if there are more than
    /// `maxTopics` others, all but the seeds' topics are: a long run's open files and disk use stay bounded (each
    /// partition keeps its files open).
    static let cleanupInterval = 1000
    static let maxTopics = 200
    static let manyPartitions: Int32 = 100
    static let seedTopics: Set = ["fuzz", "fuzz-created"]

    private let broker: MockBroker
    private let dataDirectory: String
    private var connection: BlockingConnection?
    /// Correlation ids of the ApiVersions requests the harness adds, one per input, so that an answer left over
    /// from an earlier input is never taken for the current one.
    private var nextCorrelationId = Int32.min
    private var inputs = 0
    /// How inputs ended, printed at exit: a harness whose frames all bounce off the header is not testing much.
    private var outcomes: [BlockingConnection.Outcome: Int] = [:]

    init() {
        // The data directory lives under $TMPDIR (scripts/fuzz.sh points it at a folder it removes) and is
        // removed at exit.
        let base = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("fuzz-broker-XXXXXX").path
        var template = Array(base.utf8CString)
        guard let path = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            fatalError("mkdtemp failed in \(NSTemporaryDirectory())")
        }
        dataDirectory = String(cString: path)
        var configuration = MockBrokerConfiguration(host: "127.0.0.1", port: 0, dataDirectory: dataDirectory)
        // One event loop: a request that keeps it busy then delays every connection, so the liveness check
        // below catches it whichever loop the probe would have landed on.
        configuration.eventLoopThreads = 1
        Self.raiseOpenFileLimit()
        var logger = Logger(label: "fuzz-broker")
        logger.logLevel = ProcessInfo.processInfo.environment["FUZZ_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .critical
        broker = MockBroker(configuration: configuration, logger: logger)
        let broker = broker
        Self.blocking(timeoutSeconds: 60, "starting the broker") { try await broker.start() }
    }

    func handle(frame: [UInt8]) {
        guard let connection = connection ?? BlockingConnection(port: broker.port) else {
            fatalError("cannot connect to the broker on port \(broker.port): errno \(errno)")
        }
        self.connection = connection
        let correlationId = nextCorrelationId
        nextCorrelationId &+= 1
        let bytes = Self.sizePrefixed(frame) + Self.apiVersionsRequest(correlationId: correlationId)
        let outcome: BlockingConnection.Outcome = if connection.sendAll(bytes, timeoutMilliseconds: 1000) {
            connection.awaitResponse(correlationId: correlationId, timeoutMilliseconds: Self.answerTimeoutMilliseconds)
        } else {
            .closed
        }
        outcomes[outcome, default: 0] += 1
        switch outcome {
        case .answered:
            break
        case .closed:
            self.connection = nil
        case .timedOut:
            self.connection = nil
            checkAlive()
        }
        inputs += 1
        if inputs % Self.cleanupInterval == 0 { deleteExtraTopics() }
    }

    private func deleteExtraTopics() {
        let names = broker.topicNames
        let tooMany = names.count - Self.seedTopics.count > Self.maxTopics
        for name in names where (tooMany && !Self.seedTopics.contains(name))
            || broker.offsets(topic: name, partition: Self.manyPartitions - 1) != nil {
            try? broker.deleteTopic(name)
        }
    }

    /// Partitions hold files open; the soft limit (often 1024) would run out long before the broker's own limits.
    private static func raiseOpenFileLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// A request still in progress (a long poll) is fine; a broker that no longer answers anyone is a finding.
    private func checkAlive() {
        guard let probe = BlockingConnection(port: broker.port),
              probe.sendAll(Self.apiVersionsRequest(correlationId: 7), timeoutMilliseconds: 1000),
              probe.awaitResponse(correlationId: 7, timeoutMilliseconds: Self.livenessTimeoutMilliseconds) == .answered
        else {
            fatalError("the broker stopped answering ApiVersions on a new connection")
        }
    }

    func shutdown() {
        connection = nil
        let counts = [BlockingConnection.Outcome.answered, .closed, .timedOut].map { "\($0): \(outcomes[$0, default: 0])" }
        let summary = "fuzz-broker-requests: \(counts.joined(separator: ", ")); \(broker.topicNames.count) topics\n"
        FileHandle.standardError.write(Data(summary.utf8))
        let broker = broker
        Self.blocking(timeoutSeconds: 30, "stopping the broker") { try await broker.stop() }
        try? FileManager.default.removeItem(atPath: dataDirectory)
    }

    static func sizePrefixed(_ frame: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: Int32(frame.count).bigEndian, Array.init) + frame
    }

    /// ApiVersions v0 with request header v1: key 18, version 0, the correlation id, client id "fuzz"; no body.
    static func apiVersionsRequest(correlationId: Int32) -> [UInt8] {
        sizePrefixed([0, 18, 0, 0] + withUnsafeBytes(of: correlationId.bigEndian, Array.init) + [0, 4] + Array("fuzz".utf8))
    }

    /// Runs `operation` to completion from synchronous code (libFuzzer's callbacks), trapping if it fails or
    /// takes longer than `timeoutSeconds`.
    static func blocking(timeoutSeconds: Int, _ what: String, _ operation: @escaping @Sendable () async throws -> Void) {
        let done = DispatchSemaphore(value: 0)
        let failure = FailureBox()
        Task {
            do { try await operation() } catch { failure.set("\(error)") }
            done.signal()
        }
        guard done.wait(timeout: .now() + .seconds(timeoutSeconds)) == .success else {
            fatalError("\(what) took longer than \(timeoutSeconds) s")
        }
        if let message = failure.message { fatalError("\(what) failed: \(message)") }
    }
}

/// The error of a task that a semaphore waits for; the semaphore orders the write before the read.
final class FailureBox: @unchecked Sendable {
    private(set) var message: String?
    func set(_ message: String) { self.message = message }
}
