import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import Testing

/// kafka-python is an independent, pure-Python implementation of the protocol. It negotiates versions itself
/// (no `api_version` is configured), produces idempotently by default, looks offsets up with ListOffsets and
/// administers topics with CreateTopics and DeleteRecords. Driven through `Scripts/kafka_python_peer.py`.
@Suite("kafka-python against the in-process MockBroker",
       .requires(.kafkaPython),
       .timeLimit(.minutes(2)))
struct KafkaPythonInteropTests {
    @Test("KafkaProducer and KafkaConsumer round-trip keys, values, headers and timestamps with each codec",
          arguments: ["none", "gzip", "snappy", "lz4", "zstd"])
    func roundTripWithCodec(codec: String) async throws {
        let python = try await KafkaPythonScript(named: "kafka_python_peer.py")
        try await withBroker { broker in
            let topic = "python-\(codec)"
            try broker.createTopic(topic, partitions: 2)
            // 40 records alternating between the two partitions; null keys, one null value (a tombstone), no,
            // one and repeated headers; explicit timestamps.
            let records: [PythonRecord] = (0..<40).map { i in
                let headers: [TextHeader] = switch i % 3 {
                case 0: []
                case 1: [TextHeader(name: "trace", value: "t-\(i)")]
                default: [TextHeader(name: "dup", value: "first"), TextHeader(name: "dup", value: "second ✓"),
                          TextHeader(name: "empty", value: "")]
                }
                return PythonRecord(
                    partition: Int32(i % 2), key: i % 9 == 0 ? nil : "key-\(i)",
                    value: i == 5 ? nil : "value \(i) " + String(repeating: "compressible text ✓ ", count: i % 4 + 1),
                    headers: headers, timestamp: 1_700_000_000_000 + Int64(i) * 10)
            }

            let produced: PythonProduceResult = try await python.run(
                "produce", ["--topic", topic, "--codec", codec, "--linger-ms", "20"], bootstrap: broker.bootstrapServers,
                input: records)
            #expect(produced.acks.map(\.partition) == records.map(\.partition))
            #expect(produced.acks.map(\.offset) == (0..<40).map { Int64($0 / 2) })
            #expect(produced.brokerVersion.lexicographicallyPrecedes([4, 0]) == false,
                    "kafka-python took the broker for Kafka \(produced.brokerVersion)")

            let consumed: PythonConsumeResult = try await python.run("consume", ["--topic", topic],
                                                                     bootstrap: broker.bootstrapServers)
            #expect(consumed.endOffsets == ["0": 20, "1": 20])
            let expected = records.enumerated()
                .map { i, record in PythonRecord(partition: record.partition, offset: Int64(i / 2), key: record.key,
                                                 value: record.value, headers: record.headers, timestamp: record.timestamp) }
                .sorted { ($0.partition, $0.offset!) < ($1.partition, $1.offset!) }
            #expect(consumed.records.count == expected.count)
            for (got, want) in zip(consumed.records, expected) {
                #expect(got == want)
            }

            // kafka-python compressed with the codec asked for, and the broker kept the batches that way.
            let connection = try await broker.connect()
            for partition in Int32(0)..<2 {
                let stored = try await connection.fetchAll(topic: topic, partition: partition)
                #expect(stored.highWatermark == 20)
                #expect(stored.batches.map(\.compression.description) == Array(repeating: codec, count: stored.batches.count))
            }
            await connection.close()
        }
    }

    @Test("beginning_offsets, end_offsets and offsets_for_times return exact offsets, inside and across batches")
    func offsetLookups() async throws {
        let python = try await KafkaPythonScript(named: "kafka_python_peer.py")
        try await withBroker { broker in
            try broker.createTopic("python-offsets", partitions: 1)
            let base: Int64 = 1_700_000_000_000
            // Two produce calls: offsets 0-5 and 6-11, timestamps one second apart.
            for half in 0..<2 {
                let records = (0..<6).map { i in
                    let n = half * 6 + i
                    return PythonRecord(partition: 0, key: "k\(n)", value: "v\(n)", timestamp: base + Int64(n) * 1000)
                }
                let produced: PythonProduceResult = try await python.run(
                    "produce", ["--topic", "python-offsets", "--linger-ms", "50"], bootstrap: broker.bootstrapServers,
                    input: records)
                #expect(produced.acks.map(\.offset) == (0..<6).map { Int64(half * 6 + $0) })
            }

            // Each target → the first record with a timestamp at or after it.
            let lookups: [(target: Int64, offset: Int64?)] = [
                (base - 60_000, 0), (base, 0), (base + 1, 1), (base + 2500, 3), (base + 5000, 5),
                (base + 5001, 6), (base + 6000, 6), (base + 11_000, 11), (base + 11_001, nil),
            ]
            let result: PythonOffsetsResult = try await python.run(
                "offsets", ["--topic", "python-offsets", "--partition", "0", "--times"] + lookups.map { "\($0.target)" },
                bootstrap: broker.bootstrapServers)
            #expect(result.beginning == 0)
            #expect(result.end == 12)
            #expect(result.times.map(\.target) == lookups.map(\.target))
            #expect(result.times.map(\.offset) == lookups.map(\.offset))
            #expect(result.times.map(\.timestamp) == lookups.map { $0.offset.map { base + $0 * 1000 } })
        }
    }

    @Test("after DeleteRecords, beginning_offsets and offsets_for_times start at the new log start offset")
    func offsetLookupsAfterDeleteRecords() async throws {
        let python = try await KafkaPythonScript(named: "kafka_python_peer.py")
        try await withBroker { broker in
            try broker.createTopic("python-deleted", partitions: 1)
            let base: Int64 = 1_700_000_000_000
            let records = (0..<10).map { PythonRecord(partition: 0, key: nil, value: "v\($0)", timestamp: base + Int64($0) * 1000) }
            let _: PythonProduceResult = try await python.run("produce", ["--topic", "python-deleted"],
                                                              bootstrap: broker.bootstrapServers, input: records)
            let result: PythonOffsetsResult = try await python.run(
                "offsets", ["--topic", "python-deleted", "--partition", "0", "--delete-before", "4",
                            "--times", "\(base)", "\(base + 6500)"],
                bootstrap: broker.bootstrapServers)
            #expect(result.beginning == 4)
            #expect(result.end == 10)
            #expect(result.times.map(\.offset) == [4, 7])
            #expect(result.times.map(\.timestamp) == [base + 4000, base + 7000])
            #expect(broker.offsets(topic: "python-deleted", partition: 0).map { [$0.logStartOffset, $0.highWatermark] } == [4, 10])
        }
    }

    @Test("KafkaAdminClient creates topics with the asked and the default partition counts, and cannot create one twice")
    func createTopics() async throws {
        let python = try await KafkaPythonScript(named: "kafka_python_peer.py")
        try await withBroker({ $0.defaultPartitions = 2 }) { broker in
            // One CreateTopics request for both; the script then asks again for the first name in sorted order.
            let result: PythonCreateResult = try await python.run(
                "create-topics", [], bootstrap: broker.bootstrapServers,
                input: ["python-admin-five": PythonNewTopic(partitions: 5), "python-admin-default": PythonNewTopic(partitions: nil)])
            #expect(result.created == [
                "python-admin-five": PythonCreated(error: "NoError", partitions: 5),
                "python-admin-default": PythonCreated(error: "NoError", partitions: 2),
            ])
            #expect(result.again == "TopicAlreadyExistsError")

            // What the broker itself now holds.
            #expect(Set(broker.topicNames) == ["python-admin-five", "python-admin-default"])
            for (topic, count) in [("python-admin-five", Int32(5)), ("python-admin-default", Int32(2))] {
                for partition in 0..<count {
                    #expect(broker.offsets(topic: topic, partition: partition).map { [$0.logStartOffset, $0.highWatermark] } == [0, 0],
                            "\(topic)-\(partition)")
                }
                #expect(broker.offsets(topic: topic, partition: count) == nil, "\(topic) has more than \(count) partitions")
            }
        }
    }
}

// MARK: - Running the kafka-python script

/// A record as the script's `produce` reads it and its `consume` prints it.
struct PythonRecord: Codable, Equatable, CustomStringConvertible {
    var partition: Int32
    var offset: Int64?
    var key: String?
    var value: String?
    var headers: [TextHeader] = []
    var timestamp: Int64

    init(partition: Int32, offset: Int64? = nil, key: String?, value: String?, headers: [TextHeader] = [], timestamp: Int64) {
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey { case partition, offset, key, value, headers, timestamp }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        partition = try container.decode(Int32.self, forKey: .partition)
        offset = try container.decodeIfPresent(Int64.self, forKey: .offset)
        key = try container.decodeIfPresent(String.self, forKey: .key)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        headers = try container.decode([[String]].self, forKey: .headers).map { TextHeader(name: $0[0], value: $0[1]) }
        timestamp = try container.decode(Int64.self, forKey: .timestamp)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(partition, forKey: .partition)
        try container.encode(key, forKey: .key)
        try container.encode(value, forKey: .value)
        try container.encode(headers.map { [$0.name, $0.value ?? ""] }, forKey: .headers)
        try container.encode(timestamp, forKey: .timestamp)
    }

    var description: String {
        "p\(partition)@\(offset.map(String.init) ?? "?") ts=\(timestamp) key=\(key ?? "null") value=\(value.map { String($0.prefix(40)) } ?? "null") headers=\(headers)"
    }
}

struct PythonProduceResult: Decodable {
    struct Ack: Decodable {
        var partition: Int32
        var offset: Int64
        var timestamp: Int64
    }

    var acks: [Ack]
    var brokerVersion: [Int]
}

struct PythonConsumeResult: Decodable {
    var records: [PythonRecord]
    var endOffsets: [String: Int64]
    var brokerVersion: [Int]
}

struct PythonOffsetsResult: Decodable {
    struct Lookup: Decodable {
        var target: Int64
        var offset: Int64?
        var timestamp: Int64?
    }

    var beginning: Int64
    var end: Int64
    var times: [Lookup]
}

struct PythonNewTopic: Encodable {
    /// Nil: the broker's default.
    var partitions: Int32?

    enum CodingKeys: String, CodingKey { case partitions = "num_partitions" }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(partitions, forKey: .partitions)
    }
}

struct PythonCreated: Decodable, Equatable {
    var error: String
    var partitions: Int32?

    enum CodingKeys: String, CodingKey {
        case error
        case partitions = "num_partitions"
    }
}

struct PythonCreateResult: Decodable {
    var created: [String: PythonCreated]
    var again: String
}
