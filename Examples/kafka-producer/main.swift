import ArgumentParser
import CKafkaToolProcess
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import KafkaClient
import KafkaCompression
import KafkaProtocol
import KafkaToolSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// `kafka-producer`: sends synthetic records (`--count`, `--size`) or stdin's lines to a topic and reports
/// throughput and delivery latency.
@main
struct KafkaProducerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-producer",
        abstract: "Produce records to a Kafka topic and report throughput and delivery latency."
    )

    @Option(name: .customLong("bootstrap-server"), help: "HOST:PORT of a broker (comma-separated for several).")
    var bootstrapServer: String

    @Option(help: "Topic to produce to.")
    var topic: String

    @Option(help: "Synthetic records to send (without it, one record per line of stdin).")
    var count: Int?

    @Option(help: "Value size of synthetic records, in bytes.")
    var size = 100

    @Option(name: .customLong("key-template"), help: "Key of record n (counted from 0, so the first record's key is 'key-0' for 'key-{n}'), with {n} replaced by n.")
    var keyTemplate: String?

    @Option(name: .customLong("key-separator"), help: "For stdin lines: split each line at the first SEP into key and value (a line without SEP is a value with no key), like kafka-console-producer's parse.key=true and key.separator.")
    var keySeparator: String?

    @Option(help: "Use K distinct keys: key-0 ... key-(K-1), cycling.")
    var keys: Int?

    @Option(help: "0, 1 or all.")
    var acks = "all"

    @Option(help: "none, gzip, snappy, lz4 or zstd.")
    var compression = "none"

    @Option(name: .customLong("linger-ms"), help: "linger.ms (default 5).")
    var lingerMs: Int64?

    @Option(name: .customLong("batch-size"), help: "batch.size in bytes (default 1000000; the Java client's is 16384).")
    var batchSize: Int?

    @Option(help: "sticky or round-robin: placement of records without a key.")
    var partitioner = "sticky"

    @Option(help: "true or false: enable.idempotence (default: true with acks=all).")
    var idempotent: Bool?

    @Option(name: .customLong("header"), help: "A header k=v added to every record (repeatable).")
    var headers: [String] = []

    @Option(help: "Records per second to hold to (default: as fast as the producer takes them).")
    var rate: Int?

    @Flag(help: "Stamp each value with its send time, `LATENCY:<microseconds since the epoch>` padded to --size, as rdkafka_performance -l does; kafka-consumer --latency reads it.")
    var latency = false

    @Flag(name: .customLong("stats-json"), help: "Print the summary as one JSON object on the last line of stdout.")
    var statsJSON = false

    @Option(name: .customLong("delivery-timeout-ms"), help: "delivery.timeout.ms: how long a record may take to be delivered, retries included (default 120000).")
    var deliveryTimeoutMs: Int64?

    @Option(name: .customLong("request-timeout-ms"), help: "request.timeout.ms: how long to wait for a broker's answer (default 30000).")
    var requestTimeoutMs: Int64?

    @Option(name: .customLong("max-in-flight"), help: "max.in.flight.requests.per.connection (default 5; at most 5 with idempotence).")
    var maxInFlight: Int?

    @Option(name: .customLong("max-block-ms"), help: "max.block.ms: how long sending may wait for metadata or buffer.memory (default 60000).")
    var maxBlockMs: Int64?

    @Option(name: .customLong("buffer-memory"), help: "buffer.memory: bytes of batches the producer may hold before sending waits (default 33554432).")
    var bufferMemory: Int?

    @Option(name: .customLong("send-buffer-bytes"), help: "send.buffer.bytes: SO_SNDBUF of each broker connection (default -1: the system's automatic sizing).")
    var sendBufferBytes: Int?

    @Option(name: .customLong("log-level"), help: "Client log level.")
    var logLevel = "warning"

    func validate() throws {
        // The process's malloc settings, applied when the executable is loaded (see kafka_tool_process.c).
        kafka_tool_process_settings_linked()
        guard ["0", "1", "all", "-1"].contains(acks) else { throw ValidationError("--acks must be 0, 1 or all") }
        guard CompressionCodec(name: compression) != nil else { throw ValidationError("unknown --compression \(compression)") }
        guard ["sticky", "round-robin"].contains(partitioner) else { throw ValidationError("--partitioner must be sticky or round-robin") }
        guard keyTemplate == nil || keys == nil else { throw ValidationError("use either --key-template or --keys") }
        guard keySeparator == nil || (count == nil && keyTemplate == nil && keys == nil) else {
            throw ValidationError("--key-separator reads keys from stdin lines: it goes without --count, --key-template and --keys")
        }
        guard keySeparator?.isEmpty != true else { throw ValidationError("--key-separator must not be empty") }
        guard !latency || count != nil else { throw ValidationError("--latency needs --count") }
        if let keys, keys <= 0 { throw ValidationError("--keys must be positive") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        for header in headers where !header.contains("=") { throw ValidationError("--header takes k=v, got \(header)") }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var configuration = ProducerConfiguration(bootstrapServers: bootstrapServer)
        configuration.client.clientId = "kafka-producer"
        configuration.acks = acks == "0" ? .none : acks == "1" ? .leader : .all
        configuration.compression = CompressionCodec(name: compression) ?? .none
        if let lingerMs { configuration.linger = .milliseconds(lingerMs) }
        if let batchSize { configuration.batchSize = batchSize }
        configuration.partitioner = partitioner == "round-robin" ? .roundRobin : .sticky
        configuration.enableIdempotence = idempotent
        if let deliveryTimeoutMs { configuration.deliveryTimeout = .milliseconds(deliveryTimeoutMs) }
        if let requestTimeoutMs { configuration.client.requestTimeout = .milliseconds(requestTimeoutMs) }
        if let maxBlockMs { configuration.maxBlock = .milliseconds(maxBlockMs) }
        if let bufferMemory { configuration.bufferMemory = bufferMemory }
        if let sendBufferBytes { configuration.client.sendBufferBytes = sendBufferBytes }
        if let maxInFlight { configuration.maxInFlightRequestsPerConnection = maxInFlight }
        let headers = self.headers.map { header -> RecordHeader in
            let parts = header.split(separator: "=", maxSplits: 1)
            return RecordHeader(key: String(parts[0]), value: parts.count > 1 ? String(parts[1]) : "")
        }
        let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: configuration,
                                                                           logger: Logger(label: "kafka-producer"))
        let tracker = DeliveryTracker()
        // Reports are counted on the producer's event loop, where they are made: no pool thread is woken per batch.
        let reports = Task(executorPreference: events.executor) { await tracker.consume(events) }
        let progress = Task { await tracker.reportProgress() }
        // SIGINT/SIGTERM: the first stops sending and delivers what is queued; a second stops waiting for that.
        // Either way the summary is printed.
        let signals = SignalCounter(watching: [SIGINT, SIGTERM])

        // Options are read once: a property wrapper's getter per record costs more than the append itself.
        let topic = self.topic
        let keys = KeySource(template: keyTemplate, distinct: self.keys)
        let pacing = rate.map { Pacing(recordsPerSecond: $0) }
        let start = ContinuousClock.now
        var sent = 0
        var bytes = 0
        /// Enqueue times of sampled records, handed to the tracker a few dozen at a time (not a lock per sample
        /// taken against the reports being counted on the event loop).
        var samples: [DeliveryTracker.Sample] = []
        samples.reserveCapacity(DeliveryTracker.samplesPerHandover)
        /// With `--rate`, waits until record number `sent` is due. Called before the record is made, so that a
        /// `--latency` stamp is the time it is sent, not the time it started waiting.
        @inline(__always)
        func pace() async {
            if let pacing { await pacing.wait(forRecord: sent, since: start) }
        }
        /// Sends one record; every `DeliveryTracker.sampleEvery`th gets its enqueue time noted for the latencies.
        /// `record` with the key of record number `sent`, if keys are asked for.
        @inline(__always)
        func send(_ record: ProducerRecord, valueBytes: Int) async {
            let sampled = sent % DeliveryTracker.sampleEvery == 0
            let enqueuedAt = sampled ? DeliveryTracker.now() : 0
            do {
                let id: ProducerRecordID
                if let key = keys.key(sent) {
                    var keyed = record
                    keyed.key = key
                    id = try await producer.enqueue(keyed)
                } else {
                    id = try await producer.enqueue(record)
                }
                if sampled {
                    samples.append(.init(id: id.rawValue, time: enqueuedAt))
                    if samples.count == DeliveryTracker.samplesPerHandover {
                        tracker.enqueued(samples)
                        samples.removeAll(keepingCapacity: true)
                    }
                }
            } catch {
                tracker.failedToQueue(error)
            }
            bytes += valueBytes
            sent += 1
        }
        if let count, latency {
            for _ in 0..<count where signals.count == 0 {
                await pace()
                await send(ProducerRecord(topic: topic, value: LatencyStamp.payload(size: size), headers: headers), valueBytes: size)
            }
        } else if let count {
            let payload = ByteBuffer(bytes: (0..<max(size, 0)).map { UInt8(ascii: "a") + UInt8($0 % 26) })
            // One record made once and sent `count` times: the tool adds no per-record work of its own.
            let record = ProducerRecord(topic: topic, value: payload, headers: headers)
            for _ in 0..<count {
                // One relaxed atomic load per record.
                if signals.count > 0 { break }
                await pace()
                await send(record, valueBytes: payload.readableBytes)
            }
        } else {
            let separator = keySeparator
            while signals.count == 0, let line = readLine(strippingNewline: true) {
                if let separator, let split = line.firstRange(of: separator) {
                    let value = String(line[split.upperBound...])
                    await pace()
                    await send(ProducerRecord(topic: topic, key: String(line[..<split.lowerBound]), value: value, headers: headers),
                               valueBytes: value.utf8.count)
                } else {
                    await pace()
                    await send(ProducerRecord(topic: topic, value: line, headers: headers), valueBytes: line.utf8.count)
                }
            }
        }
        tracker.enqueued(samples)
        let interrupted = signals.count > 0
        let finishing = Task {
            try? await producer.flush()
            await producer.shutdown()
            await reports.value
        }
        await signals.waitUntilMoreThan(interrupted ? 1 : 0, or: finishing)
        progress.cancel()
        let elapsed = ContinuousClock.now - start
        let summary = tracker.summary(records: sent, bytes: bytes,
                                      seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
                                      interrupted: signals.count > 0)
        print(summary.text)
        if statsJSON { print(summary.json) }
        fflush(nil)
        if signals.count > 1 { exitProcess(130) }
        if summary.errors > 0 || summary.undelivered > 0 { throw ExitCode(1) }
    }
}

/// Counts SIGINT/SIGTERM arrivals (the default action, ending the process, is turned off).
final class SignalCounter: @unchecked Sendable {
    // @unchecked: `sources` is written once, in init, and only keeps the sources alive.
    private let received = Atomic<Int>(0)
    private var sources: [any DispatchSourceSignal] = []

    init(watching signals: [Int32]) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in self.received.wrappingAdd(1, ordering: .relaxed) }
            source.resume()
            sources.append(source)
        }
    }

    var count: Int { received.load(ordering: .relaxed) }

    /// Returns when `task` is done or more than `seen` signals have arrived.
    func waitUntilMoreThan(_ seen: Int, or task: Task<Void, Never>) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask {
                while !Task.isCancelled, self.count <= seen {
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Record keys: none, `--keys K` (K distinct keys, made once) or `--key-template` (every `{n}` replaced by the
/// record's number, counted from 0).
struct KeySource: Sendable {
    private let distinct: [ByteBuffer]
    /// The template split at each `{n}`.
    private let templateParts: [String]?

    init(template: String?, distinct count: Int?) {
        distinct = (0..<(count ?? 0)).map { ByteBuffer(string: "key-\($0)") }
        templateParts = template.map { $0.split(separator: "{n}", omittingEmptySubsequences: false).map(String.init) }
    }

    func key(_ n: Int) -> ByteBuffer? {
        if !distinct.isEmpty { return distinct[n % distinct.count] }
        guard let templateParts else { return nil }
        let number = String(n)
        var key = ByteBuffer()
        for (index, part) in templateParts.enumerated() {
            if index > 0 { key.writeString(number) }
            key.writeString(part)
        }
        return key
    }
}

/// `--latency`: values that carry their send time, in rdkafka_performance's format.
enum LatencyStamp {
    static func payload(size: Int) -> ByteBuffer {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let microseconds = Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000
        var buffer = ByteBuffer(string: "LATENCY:\(microseconds)")
        if buffer.readableBytes < size { buffer.writeRepeatingByte(UInt8(ascii: " "), count: size - buffer.readableBytes) }
        return buffer
    }
}

/// `--rate`: holds the loop back so that record n goes out no earlier than n / rate seconds after the start.
struct Pacing: Sendable {
    let recordsPerSecond: Double

    init(recordsPerSecond: Int) { self.recordsPerSecond = Double(recordsPerSecond) }

    func wait(forRecord n: Int, since start: ContinuousClock.Instant) async {
        let due = start + .seconds(Double(n) / recordsPerSecond)
        // Records go out evenly, as rdkafka_performance -r spaces them: held back to bunches once a millisecond,
        // a batch would start with a bunch and its first records wait the whole linger.ms, which lengthens the
        // latencies measured at a fixed rate by a few tenths of a millisecond. (A sleep ends about 0.1 ms late, so
        // records go out a few at a time.)
        let wait = due - ContinuousClock.now
        guard wait > .microseconds(100) else { return }
        guard wait <= .milliseconds(10) else {
            // Long waits (rates under 100 records/s) do not hold a thread of the pool.
            try? await Task.sleep(until: due, clock: .continuous)
            return
        }
        // Short waits sleep on this thread, as rdkafka_performance's usleep does: one system call. `Task.sleep`
        // costs, per wait, a wake-up of the timer thread and a hop back onto the pool: at 10,000 records/s tens of
        // thousands of context switches a second, competing with the broker and the consumer for the cores and
        // showing in the very latencies a fixed rate is there to measure (p50 0.72 -> 0.64 ms, p99 1.60 -> 1.35 ms
        // end to end at linger.ms=0).
        var request = timespec(tv_sec: Int(wait.components.seconds), tv_nsec: Int(wait.components.attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// Counts outcomes and delivery latencies (from enqueue to report) as reports arrive. Latencies are sampled
/// (one record in `sampleEvery`), so the loop pays a clock read and a lock for a few records only.
final class DeliveryTracker: @unchecked Sendable {
    // @unchecked: every field is behind `lock`.
    static let sampleEvery = 16
    static let samplesPerHandover = 64
    private let lock = NIOLock()
    /// A sampled record's id and its enqueue or report time.
    struct Sample {
        var id: UInt64
        var time: UInt64
    }
    /// Enqueue times of sampled records not yet reported, by record id.
    private var enqueued: [UInt64: UInt64] = [:]
    /// Report times of sampled records whose enqueue time has not been handed over yet, by record id.
    private var reportedEarly: [UInt64: UInt64] = [:]
    private var latencies: [UInt64] = []
    private var delivered = 0
    private var errors = 0
    private var firstError: String?

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Enqueue times of sampled records (from the sending loop, a few dozen at a time).
    func enqueued(_ samples: [Sample]) {
        guard !samples.isEmpty else { return }
        lock.withLock {
            for sample in samples {
                if let reported = reportedEarly.removeValue(forKey: sample.id) {
                    latencies.append(reported &- sample.time)
                } else {
                    enqueued[sample.id] = sample.time
                }
            }
        }
    }

    func failedToQueue(_ error: any Error) {
        lock.withLock {
            errors += 1
            firstError = firstError ?? "\(error)"
        }
    }

    func consume(_ events: ProducerEvents) async {
        for await case .deliveryReports(let reports) in events {
            let now = Self.now()
            lock.withLock {
                if let error = reports.error {
                    errors += reports.count
                    firstError = firstError ?? "\(error)"
                } else {
                    delivered += reports.count
                }
                // Ids follow the loop's count unless records failed to queue; a sample then goes unmatched.
                for id in reports.recordIDs where id.rawValue % UInt64(Self.sampleEvery) == 0 {
                    if let start = enqueued.removeValue(forKey: id.rawValue) {
                        latencies.append(now &- start)
                    } else {
                        reportedEarly[id.rawValue] = now
                    }
                }
            }
        }
    }

    func reportProgress() async {
        var elapsed = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(1))
            guard !Task.isCancelled else { return }
            elapsed += 1
            let (done, failed) = lock.withLock { (delivered, errors) }
            writeToStandardError("[\(elapsed)s] \(done) delivered, \(failed) failed\n")
        }
    }

    struct Summary {
        var text: String
        var json: String
        var errors: Int
        /// Records sent that have no outcome yet (a second signal stopped the wait).
        var undelivered: Int
    }

    func summary(records: Int, bytes: Int, seconds: Double, interrupted: Bool) -> Summary {
        lock.withLock {
            let sorted = latencies.sorted()
            func percentile(_ p: Double) -> Double {
                sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1e6
            }
            let undelivered = max(records - delivered - errors, 0)
            let rate = seconds > 0 ? Double(records) / seconds : 0
            let megabytes = seconds > 0 ? Double(bytes) / 1e6 / seconds : 0
            let text = "\(records) records, \(bytes) bytes in \(fixed(seconds, 2)) s: \(fixed(rate, 0)) records/s, "
                + "\(fixed(megabytes, 2)) MB/s, delivery latency p50 \(fixed(percentile(0.5), 2)) ms p99 "
                + "\(fixed(percentile(0.99), 2)) ms, \(errors) errors"
                + (firstError.map { " (first: \($0))" } ?? "")
                + (undelivered > 0 ? ", \(undelivered) without an outcome" : "")
                + (interrupted ? " (interrupted)" : "")
            let json = #"{"records":\#(records),"delivered":\#(delivered),"bytes":\#(bytes),"seconds":\#(fixed(seconds, 3)),"#
                + #""records_per_second":\#(fixed(rate, 1)),"mb_per_second":\#(fixed(megabytes, 3)),"#
                + #""p50_ms":\#(fixed(percentile(0.5), 3)),"p99_ms":\#(fixed(percentile(0.99), 3)),"errors":\#(errors),"#
                + #""undelivered":\#(undelivered),"interrupted":\#(interrupted)}"#
            return Summary(text: text, json: json, errors: errors, undelivered: undelivered)
        }
    }
}
