import Foundation
import KafkaClient
import KafkaProtocol
import NIOConcurrencyHelpers
import NIOCore

/// A client that does everything right, to run beside abuse of a broker: this package's `KafkaProducer`
/// (acks=all, idempotent) sends numbered records (`record-1`, `record-2`, ...) while a `KafkaConsumer` reads the
/// topic from the beginning. Every record must come back exactly once, at the partition and offset its
/// acknowledgement named.
public enum WellBehavedClient {
    public struct Report: Sendable, CustomStringConvertible {
        /// Where each acknowledged record went, by value.
        public var acknowledged: [String: RecordMetadata] = [:]
        /// What did not go as it must: failed sends, records missing, duplicated, moved or unexpected.
        public var problems: [String] = []

        public var description: String {
            "\(acknowledged.count) record(s) acknowledged; " + (problems.isEmpty ? "all read back exactly once"
                : "\(problems.count) problem(s): \(problems.prefix(10).joined(separator: "; "))")
        }
    }

    private struct Received {
        var records: [(value: String, partition: Int32, offset: Int64)] = []
        var error: String?
    }

    /// Starts producing and consuming on `topic` (which must exist, with `partitions` partitions) and waits until
    /// the first record went around, then runs `abuse`, keeps producing until `abuse` has returned and at least
    /// `minimumRecords` were sent, then waits (up to `readBackLimit`, a safety bound) until the consumer has read
    /// every acknowledged record. It stops producing at `maximumRecords` (by default 20 times the minimum), to bound
    /// the work when the abuse takes long.
    public static func run<T: Sendable>(
        bootstrapServers: String, topic: String, partitions: Int32, minimumRecords: Int, maximumRecords: Int? = nil,
        readBackLimit: Duration = .seconds(60),
        during abuse: @Sendable () async throws -> T
    ) async throws -> (T, Report) {
        var producerConfiguration = ProducerConfiguration(bootstrapServers: bootstrapServers)
        producerConfiguration.acks = .all
        producerConfiguration.linger = .milliseconds(2)
        producerConfiguration.client.requestTimeout = .seconds(10)
        producerConfiguration.deliveryTimeout = .seconds(60)
        producerConfiguration.maxBlock = .seconds(30)
        producerConfiguration.client.retryBackoff = .milliseconds(20)
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: testLogger)

        var consumerConfiguration = ConsumerConfiguration(bootstrapServers: bootstrapServers)
        consumerConfiguration.autoOffsetReset = .earliest
        consumerConfiguration.fetchMaxWait = .milliseconds(100)
        consumerConfiguration.client.retryBackoff = .milliseconds(20)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: testLogger)
        try consumer.assign((0..<partitions).map { TopicPartition(topic: topic, partition: $0) })

        let received = NIOLockedValueBox(Received())
        let reader = Task {
            do {
                for try await record in consumer.records {
                    let value = record.value.map { String(buffer: $0) } ?? "<null>"
                    received.withLockedValue { $0.records.append((value, record.partition, record.offset)) }
                }
            } catch {
                received.withLockedValue { $0.error = "\(error)" }
            }
        }

        var report = Report()
        let sent = NIOLockedValueBox<[String: RecordMetadata]>([:])
        let failures = NIOLockedValueBox<[String]>([])
        let abuseDone = NIOLockedValueBox(false)
        // The first record also waits for metadata and a producer id, and the consumer for its connections:
        // before the abuse starts.
        try await send(1, producer: producer, topic: topic, sent: sent, failures: failures)
        let warmUp = ContinuousClock.now + .seconds(30)
        while received.withLockedValue({ $0.records.isEmpty && $0.error == nil }) && ContinuousClock.now < warmUp {
            try? await Task.sleep(for: .milliseconds(10))
        }
        let maximum = maximumRecords ?? minimumRecords * 20
        let writer = Task {
            var next = 2
            // A failed send is a problem already reported; sending on would only repeat it.
            while (!abuseDone.withLockedValue({ $0 }) || next <= minimumRecords) && next + 20 <= maximum + 1
                && failures.withLockedValue({ $0.isEmpty }) {
                let first = next
                next += 20
                await withTaskGroup(of: Void.self) { group in
                    for number in first..<first + 20 {
                        group.addTask { try? await send(number, producer: producer, topic: topic, sent: sent, failures: failures) }
                    }
                }
            }
        }

        let result: T
        do {
            result = try await abuse()
        } catch {
            abuseDone.withLockedValue { $0 = true }
            await writer.value
            reader.cancel()
            await consumer.close()
            await producer.shutdown()
            throw error
        }
        abuseDone.withLockedValue { $0 = true }
        await writer.value
        report.acknowledged = sent.withLockedValue { $0 }
        report.problems = failures.withLockedValue { $0 }

        let deadline = ContinuousClock.now + readBackLimit
        while ContinuousClock.now < deadline {
            let (count, error) = received.withLockedValue { ($0.records.count, $0.error) }
            if count >= report.acknowledged.count || error != nil { break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        reader.cancel()
        await reader.value
        await consumer.close()
        await producer.shutdown()

        let (records, readError) = received.withLockedValue { ($0.records, $0.error) }
        if let readError { report.problems.append("the consumer failed: \(readError)") }
        var seen: [String: Int] = [:]
        for record in records {
            seen[record.value, default: 0] += 1
            guard let where_ = report.acknowledged[record.value] else {
                report.problems.append("\(record.value) at \(record.partition)/\(record.offset) was never acknowledged")
                continue
            }
            if where_.partition != record.partition || where_.offset != record.offset {
                report.problems.append("\(record.value) read at \(record.partition)/\(record.offset), acknowledged at \(where_.partition)/\(where_.offset)")
            }
        }
        for (value, count) in seen where count > 1 { report.problems.append("\(value) read \(count) times") }
        let missing = Set(report.acknowledged.keys).subtracting(seen.keys)
        if !missing.isEmpty {
            report.problems.append("\(missing.count) acknowledged record(s) never read back, e.g. \(missing.sorted().prefix(5))")
        }
        return (result, report)
    }

    private static func send(_ number: Int, producer: KafkaProducer, topic: String,
                             sent: NIOLockedValueBox<[String: RecordMetadata]>, failures: NIOLockedValueBox<[String]>) async throws {
        let value = "record-\(number)"
        do {
            let metadata = try await producer.send(ProducerRecord(topic: topic, key: "key-\(number % 7)", value: value))
            sent.withLockedValue { $0[value] = metadata }
        } catch {
            failures.withLockedValue { $0.append("send of \(value) failed: \(error)") }
            throw error
        }
    }
}
