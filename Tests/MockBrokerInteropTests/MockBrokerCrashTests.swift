import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOConcurrencyHelpers
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `kill -9` of the `mock-broker` process while this package's `KafkaProducer` sends with acks=all, then a restart
/// on the same data directory; and a segment byte flipped on disk between runs.
@Suite("mock-broker crashes and damaged data", .timeLimit(.minutes(3)))
struct MockBrokerCrashTests {
    /// A producer that gives up quickly once the broker is gone (the test kills it on purpose).
    static func producer(_ broker: BrokerProcess) throws -> KafkaProducer {
        var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
        configuration.acks = .all
        configuration.linger = .milliseconds(1)
        configuration.client.requestTimeout = .seconds(3)
        configuration.deliveryTimeout = .seconds(6)
        configuration.maxBlock = .seconds(20)
        configuration.client.retryBackoff = .milliseconds(20)
        configuration.client.reconnectBackoff = .milliseconds(20)
        configuration.client.reconnectBackoffMax = .milliseconds(200)
        return try KafkaProducer(configuration: configuration, logger: testLogger)
    }

    /// Sends from `writers` tasks at once (each waiting for its acknowledgement before the next) until the broker
    /// has acknowledged `killAfter` records, kills it with SIGKILL by its PID, and returns where every
    /// acknowledged record went, by value.
    static func produceUntilKilled(_ broker: BrokerProcess, topic: String, writers: Int = 8,
                                   killAfter: Int) async throws -> [String: RecordMetadata] {
        let producer = try producer(broker)
        let acknowledged = NIOLockedValueBox<[String: RecordMetadata]>([:])
        // The dead broker's port, held while the writers still retry it (up to delivery.timeout.ms), so that a
        // broker another test starts meanwhile is not given it and does not answer in the dead one's place.
        let deadPort = NIOLockedValueBox<PortReservation?>(nil)
        defer { deadPort.withLockedValue { $0?.release() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<writers {
                group.addTask {
                    var number = 0
                    while true {
                        let value = "w\(writer)-\(number)"
                        // Any failure means the broker is gone: this writer is done.
                        guard let metadata = try? await producer.send(ProducerRecord(topic: topic, key: "k\(number % 5)", value: value)) else {
                            return
                        }
                        acknowledged.withLockedValue { $0[value] = metadata }
                        number += 1
                    }
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while acknowledged.withLockedValue({ $0.count }) < killAfter && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(2))
            }
            broker.send(SIGKILL)
            let exit = await broker.waitForExit(limit: .seconds(30))
            deadPort.withLockedValue { $0 = PortReservation(port: broker.port) }
            #expect(exit?.exitedNormally == false && exit?.status == SIGKILL, "mock-broker did not die of SIGKILL: \(String(describing: exit))")
            try await group.waitForAll()
        }
        await producer.shutdown()
        let result = acknowledged.withLockedValue { $0 }
        #expect(result.count >= killAfter, "only \(result.count) records were acknowledged before the kill")
        return result
    }

    /// Reads every partition back to its end (checksums verified) and requires a gapless log from offset 0 with
    /// every acknowledged record at its offset; then requires appends to continue right after. Returns the
    /// records read per partition.
    static func verifyAfterRestart(_ broker: BrokerProcess, topic: String, partitions: Int32,
                                   acknowledged: [String: RecordMetadata]) async throws -> [Int32: Int] {
        let connection = try await broker.connect()
        var counts: [Int32: Int] = [:]
        var byPlace: [Int32: [Int64: String]] = [:]
        for partition in 0..<partitions {
            let (batches, highWatermark) = try await connection.fetchAll(topic: topic, partition: partition)
            let records = try batches.flatMap { try $0.allRecords() }
            #expect(records.map(\.offset) == Array(0..<highWatermark), "partition \(partition) is not a gapless log from 0")
            let values = records.compactMap(\.valueString)
            #expect(Set(values).count == values.count, "a record is stored twice in partition \(partition)")
            byPlace[partition] = Dictionary(uniqueKeysWithValues: records.map { ($0.offset, $0.valueString ?? "") })
            counts[partition] = records.count
        }
        var lost: [String] = []
        for (value, metadata) in acknowledged where byPlace[metadata.partition]?[metadata.offset] != value {
            lost.append("\(value) at \(metadata.partition)/\(metadata.offset)")
        }
        #expect(lost.isEmpty, "\(lost.count) acknowledged record(s) missing or moved, e.g. \(lost.sorted().prefix(5))")
        for partition in 0..<partitions {
            let next = try await connection.produce([TextRecord(key: nil, value: "after restart")], topic: topic, partition: partition)
            #expect(next.errorCode == 0)
            #expect(next.baseOffset == Int64(counts[partition] ?? -1), "appends do not continue after the recovered log")
        }
        await connection.close()
        return counts
    }

    static func createTopic(_ broker: BrokerProcess, _ topic: String, partitions: Int32) async throws {
        let connection = try await broker.connect()
        let created = try await connection.send(CreateTopicsRequest(
            topics: [.init(name: topic, numPartitions: partitions, replicationFactor: 1)], timeoutMs: 5000))
        #expect(created.topics.map(\.errorCode) == [0])
        await connection.close()
    }

    /// The last segment file of a partition.
    static func lastSegment(_ dataDirectory: String, _ topic: String, partition: Int32) throws -> String {
        let directory = "\(dataDirectory)/\(topic)-\(partition)"
        let logs = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted()
        return "\(directory)/\(try #require(logs.last))"
    }

    @Test("kill -9 with acks=all producers running, --flush-messages 1: after a restart every acknowledged record is there at its offset and the logs read back cleanly")
    func durableFlushPolicy() async throws {
        try await withTemporaryDirectory("mock-broker-kill-durable") { dataDirectory in
            let arguments = ["--flush-messages", "1"]
            let acknowledged = try await withBrokerProcess(dataDirectory: dataDirectory, arguments: arguments) { broker in
                try await Self.createTopic(broker, "durable", partitions: 3)
                return try await Self.produceUntilKilled(broker, topic: "durable", killAfter: 400)
            }
            try await withBrokerProcess(dataDirectory: dataDirectory, arguments: arguments) { broker in
                let counts = try await Self.verifyAfterRestart(broker, topic: "durable", partitions: 3, acknowledged: acknowledged)
                #expect(counts.values.reduce(0, +) >= acknowledged.count)
                #expect(!broker.stderr.contains("recovered from corruption"), "\(broker.stderr.suffix(2000))")
            }
        }
    }

    @Test("kill -9 with the default flush policy and a torn last write: the torn tail is cut and reported, the broker starts, everything before it reads back")
    func defaultFlushPolicyWithTornTail() async throws {
        try await withTemporaryDirectory("mock-broker-kill-default") { dataDirectory in
            let acknowledged = try await withBrokerProcess(dataDirectory: dataDirectory) { broker in
                try await Self.createTopic(broker, "unflushed", partitions: 3)
                return try await Self.produceUntilKilled(broker, topic: "unflushed", killAfter: 400)
            }
            // A process kill leaves the page cache, so the writes are whole; a crash of the machine during a write
            // leaves part of a batch. Make partition 0 end like that: the first half of a copy of its last batch,
            // as the next batch (its base offset the one after the last batch's last offset).
            let segment = try Self.lastSegment(dataDirectory, "unflushed", partition: 0)
            let bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
            var position = 0
            var last = 0
            while position + 12 <= bytes.count {
                last = position
                position += 12 + bytes[(position + 8)..<(position + 12)].reduce(0) { $0 << 8 | Int($1) }
            }
            var torn = Array(bytes[last..<(last + (bytes.count - last) / 2)])
            let baseOffset = torn[0..<8].reduce(Int64(0)) { $0 << 8 | Int64($1) }
            let lastOffsetDelta = torn[23..<27].reduce(Int64(0)) { $0 << 8 | Int64($1) }
            torn.replaceSubrange(0..<8, with: withUnsafeBytes(of: (baseOffset + lastOffsetDelta + 1).bigEndian, Array.init))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: segment))
            try handle.seekToEnd()
            try handle.write(contentsOf: torn)
            try handle.close()

            try await withBrokerProcess(dataDirectory: dataDirectory) { broker in
                #expect(broker.stderr.contains("recovered a torn write: unflushed-0: an incomplete batch"),
                        "the torn tail was not reported; log:\n\(broker.stderr.suffix(2000))")
                // Without fsync a machine crash could lose acknowledged records; a process kill cannot (the page
                // cache survives it), so every acknowledged record is still required here.
                _ = try await Self.verifyAfterRestart(broker, topic: "unflushed", partitions: 3, acknowledged: acknowledged)
            }
        }
    }

    @Test("a byte flipped inside a segment's records between runs: the broker starts, reports the corruption, and serves every batch before it")
    func corruptedSegmentByte() async throws {
        try await withTemporaryDirectory("mock-broker-corrupt") { dataDirectory in
            try await withBrokerProcess(dataDirectory: dataDirectory) { broker in
                try await Self.createTopic(broker, "damaged", partitions: 1)
                let connection = try await broker.connect()
                for batch in 0..<20 {
                    let records = (0..<3).map { TextRecord(key: nil, value: "v\(batch * 3 + $0)") }
                    #expect(try await connection.append(records, topic: "damaged", codec: batch % 2 == 0 ? .none : .lz4) == Int64(batch * 3))
                }
                await connection.close()
                broker.send(SIGTERM)
                let exit = await broker.waitForExit(limit: .seconds(30))
                #expect(exit?.exitedNormally == true && exit?.status == 0)
            }
            let segment = try Self.lastSegment(dataDirectory, "damaged", partition: 0)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
            var positions: [Int] = []
            var position = 0
            while position + 12 <= bytes.count {
                positions.append(position)
                position += 12 + bytes[(position + 8)..<(position + 12)].reduce(0) { $0 << 8 | Int($1) }
            }
            #expect(positions.count == 20)
            // Batch 10 (offsets 30-32): a byte of its records, past the 61-byte batch header.
            bytes[positions[10] + 64] ^= 0xFF
            try bytes.write(to: URL(fileURLWithPath: segment))

            try await withBrokerProcess(dataDirectory: dataDirectory) { broker in
                #expect(broker.stderr.contains("""
                    recovered from corruption: damaged-0: a corrupt batch (its CRC does not match its bytes) at byte \
                    \(positions[10]) of 00000000000000000000.log; the log now ends at offset 30
                    """), "the corruption was not reported; log:\n\(broker.stderr.suffix(2000))")
                let connection = try await broker.connect()
                let (batches, highWatermark) = try await connection.fetchAll(topic: "damaged")
                #expect(highWatermark == 30)
                #expect(batches.count == 10)
                let records = try batches.flatMap { try $0.allRecords() }
                #expect(records.map(\.valueString) == (0..<30).map { "v\($0)" })
                #expect(try await connection.append([TextRecord(key: nil, value: "after")], topic: "damaged") == 30)
                await connection.close()
            }
        }
    }
}
