import Foundation
import KafkaClient
import Logging
import MockBroker
import NIOCore
import NIOPosix
import Synchronization

// kafka-soak: idempotent producers and a consumer group run against a MockBroker for a while, the broker
// restarted and members replaced along the way. At the end every acknowledged record must have been consumed at
// least once, and the log must hold each exactly once, in order per producer. Peak memory and any stall are
// reported. Not part of CI: `swift run -c release kafka-soak --minutes 10`.

struct Options {
    var minutes = 10.0
    var producers = 2
    var consumers = 3
    var partitions: Int32 = 6
    /// Records per second per producer.
    var rate = 2_000
    /// Seconds between chaos events (a broker restart or a member replaced, in turn).
    var chaosEvery = 30.0
    var dataDirectory: String?

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            let value = iterator.next() ?? ""
            switch flag {
            case "--minutes": minutes = Double(value) ?? minutes
            case "--producers": producers = Int(value) ?? producers
            case "--consumers": consumers = Int(value) ?? consumers
            case "--partitions": partitions = Int32(value) ?? partitions
            case "--rate": rate = Int(value) ?? rate
            case "--chaos-every": chaosEvery = Double(value) ?? chaosEvery
            case "--data-dir": dataDirectory = value
            default:
                print("usage: kafka-soak [--minutes M] [--producers P] [--consumers C] [--partitions N] [--rate R] [--chaos-every S] [--data-dir D]")
                exit(2)
            }
        }
    }
}

/// What was acknowledged and what was consumed, by (partition, offset).
final class Ledger: Sendable {
    struct Entry: Hashable, Sendable {
        var partition: Int32
        var offset: Int64
    }

    private let state = Mutex(State())

    private struct State {
        var acknowledged: [Entry: String] = [:]
        var consumed: [Entry: String] = [:]
        var consumedCount = 0
        var failedSends = 0
        var mismatched: [String] = []
        var lastProgress = ContinuousClock.now
    }

    func acknowledged(_ entry: Entry, value: String) {
        state.withLock {
            $0.acknowledged[entry] = value
            $0.lastProgress = .now
        }
    }

    func failed(_ count: Int) {
        state.withLock { $0.failedSends += count }
    }

    func consumed(_ entry: Entry, value: String) {
        state.withLock { state in
            state.consumedCount += 1
            state.lastProgress = .now
            if let earlier = state.consumed[entry], earlier != value {
                state.mismatched.append("offset \(entry.offset) of partition \(entry.partition) read as \(earlier) and as \(value)")
            }
            state.consumed[entry] = value
        }
    }

    var counts: (acknowledged: Int, consumedDistinct: Int, consumed: Int, failed: Int) {
        state.withLock { ($0.acknowledged.count, $0.consumed.count, $0.consumedCount, $0.failedSends) }
    }

    var sinceProgress: Duration { state.withLock { ContinuousClock.now - $0.lastProgress } }

    /// Acknowledged records not consumed (or consumed with another value).
    var missing: [Entry] {
        state.withLock { state in
            state.acknowledged.compactMap { entry, value in state.consumed[entry] == value ? nil : entry }
        }
    }

    var mismatched: [String] { state.withLock { $0.mismatched } }

    var acknowledgedEntries: [Entry] { state.withLock { Array($0.acknowledged.keys) } }
}

func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Double(line.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0) / 1024
    }
    return 0
}

func freePort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 0
    try await channel.close()
    return port
}

@main
struct Soak {
    static func main() async throws {
        let options = Options(arguments: CommandLine.arguments)
        let logger = {
            var logger = Logger(label: "kafka-soak")
            logger.logLevel = .warning
            return logger
        }()
        let dataDirectory = options.dataDirectory ?? NSTemporaryDirectory() + "kafka-soak-\(getpid())"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        defer { if options.dataDirectory == nil { try? FileManager.default.removeItem(atPath: dataDirectory) } }
        let port = try await freePort()
        var configuration = MockBrokerConfiguration(host: "127.0.0.1", port: port, dataDirectory: dataDirectory)
        configuration.groupMinSessionTimeout = .seconds(1)
        configuration.autoCreateTopics = false
        var broker = try await MockBroker.start(configuration: configuration, logger: logger)
        try broker.createTopic("soak", partitions: options.partitions)
        let bootstrap = "127.0.0.1:\(port)"
        let ledger = Ledger()
        let start = ContinuousClock.now
        let end = start + .seconds(options.minutes * 60)
        print("kafka-soak: \(options.producers) idempotent producers at \(options.rate) records/s each, \(options.consumers) consumers in a group, \(options.partitions) partitions, \(options.minutes) minutes, chaos every \(options.chaosEvery) s")

        // Producers: acks=all, idempotent; every acknowledged record goes into the ledger.
        let (producers, rate) = (options.producers, options.rate)
        let producing = Task {
            await withTaskGroup(of: Void.self) { group in
                for index in 0..<producers {
                    group.addTask { await produce(index: index, bootstrap: bootstrap, rate: rate, until: end, ledger: ledger, logger: logger) }
                }
            }
        }

        // Consumers in one group; members are replaced by the chaos loop.
        let members = Members(bootstrap: bootstrap, ledger: ledger, logger: logger)
        for _ in 0..<options.consumers { try await members.add() }

        // Chaos: in turn, a broker restart (graceful stop, a pause, start on the same data and port) and a member
        // replaced (one leaves, another joins).
        var restarts = 0
        var replacements = 0
        var stalls: [String] = []
        var turn = 0
        var nextChaos = ContinuousClock.now + .seconds(options.chaosEvery)
        while ContinuousClock.now < end {
            try await Task.sleep(for: .seconds(1))
            if ledger.sinceProgress > .seconds(30) {
                stalls.append("no record acknowledged or consumed for \(ledger.sinceProgress) at \(ContinuousClock.now - start)")
            }
            guard ContinuousClock.now >= nextChaos else { continue }
            nextChaos = ContinuousClock.now + .seconds(options.chaosEvery)
            if turn % 2 == 0 {
                try await broker.stop()
                try await Task.sleep(for: .seconds(2))
                broker = try await MockBroker.start(configuration: configuration, logger: logger)
                restarts += 1
            } else {
                await members.replaceOne()
                replacements += 1
            }
            turn += 1
            let counts = ledger.counts
            print("[\(Int((ContinuousClock.now - start).components.seconds)) s] acknowledged \(counts.acknowledged), consumed \(counts.consumedDistinct) distinct (\(counts.consumed) in all), \(restarts) restarts, \(replacements) members replaced, peak RSS \(Int(peakResidentMegabytes())) MB")
        }
        await producing.value

        // Drain: the consumers catch up with everything acknowledged (bounded).
        let drainDeadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < drainDeadline, !ledger.missing.isEmpty {
            try await Task.sleep(for: .seconds(1))
        }
        await members.closeAll()

        // The log itself: each acknowledged record exactly once, in order per producer.
        let logCheck = try await checkLog(bootstrap: bootstrap, partitions: options.partitions, logger: logger)
        try await broker.stop()

        let counts = ledger.counts
        let missing = ledger.missing
        let duplicatesConsumed = counts.consumed - counts.consumedDistinct
        print("""
        kafka-soak report
          duration: \(options.minutes) minutes; broker restarts: \(restarts); members replaced: \(replacements)
          acknowledged: \(counts.acknowledged); failed to send (reported as failures, not acknowledged): \(counts.failed)
          consumed: \(counts.consumedDistinct) distinct, \(duplicatesConsumed) redelivered (at-least-once, after rebalances and restarts)
          acknowledged but never consumed: \(missing.count)\(missing.isEmpty ? "" : " e.g. \(missing.prefix(5))")
          consumed with a different value than acknowledged: \(ledger.mismatched.count)
          log: \(logCheck.records) records, \(logCheck.duplicates) duplicates, \(logCheck.outOfOrder) out of order per producer, \(logCheck.missing) acknowledged records absent
          stalls: \(stalls.count)\(stalls.isEmpty ? "" : " " + stalls.prefix(3).joined(separator: "; "))
          peak RSS: \(Int(peakResidentMegabytes())) MB
        """)
        let failed = !missing.isEmpty || !ledger.mismatched.isEmpty || logCheck.duplicates > 0 || logCheck.outOfOrder > 0
            || logCheck.missing > 0 || !stalls.isEmpty
        print(failed ? "FAILED" : "PASSED")
        exit(failed ? 1 : 0)

        func checkLog(bootstrap: String, partitions: Int32, logger: Logger) async throws -> (records: Int, duplicates: Int, outOfOrder: Int, missing: Int) {
            var configuration = ConsumerConfiguration(bootstrapServers: bootstrap, groupId: nil)
            configuration.autoOffsetReset = .earliest
            let reader = try KafkaConsumer(configuration: configuration, logger: logger)
            try reader.assign((0..<partitions).map { TopicPartition(topic: "soak", partition: $0) })
            let ends = ledger.counts.acknowledged
            var seen = Set<String>()
            var lastSequence: [String: Int] = [:]
            var records = 0, duplicates = 0, outOfOrder = 0
            let deadline = ContinuousClock.now + .seconds(120)
            var present = Set<Ledger.Entry>()
            let reading = Task { () -> Void in
                for try await record in reader.records {
                    let value = record.value.map { String(buffer: $0) } ?? ""
                    records += 1
                    present.insert(Ledger.Entry(partition: record.partition, offset: record.offset))
                    if !seen.insert(value).inserted { duplicates += 1 }
                    // "p<producer>-<sequence>": per producer and partition the sequences must increase.
                    let parts = value.split(separator: "-")
                    if parts.count == 2, let sequence = Int(parts[1]) {
                        let key = "\(parts[0])/\(record.partition)"
                        if let last = lastSequence[key], sequence <= last { outOfOrder += 1 }
                        lastSequence[key] = sequence
                    }
                    if records >= ends && seen.count >= ends { break }
                }
            }
            while ContinuousClock.now < deadline, !reading.isCancelled {
                try await Task.sleep(for: .milliseconds(200))
                if records >= ends { break }
            }
            reading.cancel()
            _ = try? await reading.value
            await reader.close()
            let absent = ledger.missingFrom(present)
            return (records, duplicates, outOfOrder, absent)
        }
    }

    static func produce(index: Int, bootstrap: String, rate: Int, until end: ContinuousClock.Instant, ledger: Ledger,
                        logger: Logger) async {
        var configuration = ProducerConfiguration(bootstrapServers: bootstrap)
        configuration.acks = .all
        configuration.enableIdempotence = true
        configuration.deliveryTimeout = .seconds(2 * 60)
        guard let (producer, events) = try? KafkaProducer.makeWithDeliveryReports(configuration: configuration, logger: logger) else {
            return
        }
        // Values by record id, and outcomes that arrived before enqueue returned the id: whichever comes second
        // completes the ledger entry.
        let matching = Mutex<(values: [UInt64: String], early: [UInt64: Ledger.Entry])>(([:], [:]))
        let reports = Task {
            for await case .deliveryReports(let batch) in events {
                if let error = batch.error {
                    logger.warning("producer \(index): \(batch.count) records failed: \(error)")
                    ledger.failed(batch.count)
                    matching.withLock { state in for id in batch.recordIDs { state.values[id.rawValue] = nil } }
                    continue
                }
                for report in batch {
                    guard case .success(let metadata) = report.result else { continue }
                    let entry = Ledger.Entry(partition: metadata.partition, offset: metadata.offset)
                    let value = matching.withLock { state -> String? in
                        if let value = state.values.removeValue(forKey: report.id.rawValue) { return value }
                        state.early[report.id.rawValue] = entry
                        return nil
                    }
                    if let value { ledger.acknowledged(entry, value: value) }
                }
            }
        }
        let started = ContinuousClock.now
        var sequence = 0
        while ContinuousClock.now < end {
            let due = started + .seconds(Double(sequence) / Double(rate))
            if due > ContinuousClock.now { try? await Task.sleep(until: due, clock: .continuous) }
            let value = "p\(index)-\(sequence)"
            do {
                let id = try await producer.enqueue(ProducerRecord(topic: "soak", key: "key-\(sequence % 100)", value: value))
                let early = matching.withLock { state -> Ledger.Entry? in
                    if let entry = state.early.removeValue(forKey: id.rawValue) { return entry }
                    state.values[id.rawValue] = value
                    return nil
                }
                if let early { ledger.acknowledged(early, value: value) }
            } catch {
                ledger.failed(1)
            }
            sequence += 1
        }
        try? await producer.flush()
        await producer.shutdown()
        await reports.value
    }
}

extension Ledger {
    /// Acknowledged records whose (partition, offset) is not in `present`.
    func missingFrom(_ present: Set<Entry>) -> Int {
        acknowledgedEntries.filter { !present.contains($0) }.count
    }
}

/// The consumer group's members, replaceable one at a time.
actor Members {
    private let bootstrap: String
    private let ledger: Ledger
    private let logger: Logger
    private var members: [(consumer: KafkaConsumer, reading: Task<Void, Never>)] = []

    init(bootstrap: String, ledger: Ledger, logger: Logger) {
        self.bootstrap = bootstrap
        self.ledger = ledger
        self.logger = logger
    }

    func add() throws {
        var configuration = ConsumerConfiguration(bootstrapServers: bootstrap, groupId: "soak")
        configuration.autoOffsetReset = .earliest
        configuration.sessionTimeout = .seconds(10)
        configuration.heartbeatInterval = .seconds(1)
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try consumer.subscribe(topics: ["soak"])
        let ledger = self.ledger
        let logger = self.logger
        let reading = Task {
            while !Task.isCancelled {
                do {
                    for try await record in consumer.records {
                        ledger.consumed(.init(partition: record.partition, offset: record.offset),
                                        value: record.value.map { String(buffer: $0) } ?? "")
                    }
                    return
                } catch {
                    logger.warning("consumer: \(error)")
                }
            }
        }
        members.append((consumer, reading))
    }

    func replaceOne() async {
        guard !members.isEmpty else { return }
        let (consumer, reading) = members.removeFirst()
        reading.cancel()
        await consumer.close()
        try? add()
    }

    func closeAll() async {
        for (consumer, reading) in members {
            reading.cancel()
            await consumer.close()
        }
        members = []
    }
}
