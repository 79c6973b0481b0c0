import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import Testing

/// kcat drives librdkafka, the C client most non-JVM Kafka clients are built on. Everything here goes through
/// librdkafka's own protocol code: version negotiation, Metadata, Produce with its compression codecs, Fetch.
@Suite("kcat (librdkafka) against the in-process MockBroker",
       .requires(.kcat),
       .timeLimit(.minutes(2)))
struct KcatInteropTests {
    static let codecs = ["none", "gzip", "snappy", "lz4", "zstd"]

    @Test("records produced with each codec come back with the same keys, values and headers, in order",
          arguments: codecs)
    func roundTripWithCodec(codec: String) async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            let topic = "kcat-\(codec)"
            try broker.createTopic(topic, partitions: 1)
            // 50 lines `key:value`: most keyed, every tenth from 3 with an empty key, every tenth from 7 without
            // a delimiter (a null key). Values hold the delimiter, commas, '=', quotes and non-ASCII text, and are
            // long and repetitive enough that even a batch of one record gets smaller when compressed (librdkafka
            // sends a batch uncompressed when compressing does not shrink it).
            var lines: [String] = []
            var expected: [TextRecord] = []
            for i in 0..<50 {
                let body = "value \(i) " + String(repeating: "lorem, ipsum = \"dolor\" ✓ ", count: i % 5 + 8)
                switch i % 10 {
                case 3:
                    lines.append(":\(body)")
                    expected.append(TextRecord(key: "", value: body))
                case 7:
                    lines.append(body)
                    expected.append(TextRecord(key: nil, value: body))
                default:
                    let key = "key-\(codec)-\(i)"
                    lines.append("\(key):\(body):tail")
                    expected.append(TextRecord(key: key, value: "\(body):tail"))
                }
            }

            try await kcat.produce(broker.bootstrapServers, topic: topic, lines: lines,
                                   ["-z", codec, "-K:", "-H", "k1=v1", "-H", "k2=v2", "-X", "linger.ms=200"])
            let messages = try await kcat.consume(broker.bootstrapServers, topic: topic)

            #expect(messages.count == 50)
            #expect(messages.map(\.partition) == Array(repeating: 0, count: messages.count))
            #expect(messages.map(\.offset) == Array(0..<Int64(messages.count)))
            #expect(messages.map(\.key) == expected.map(\.key))
            #expect(messages.map(\.payload) == expected.map(\.value))
            for message in messages {
                #expect(message.headers == ["k1", "v1", "k2", "v2"], "headers of offset \(message.offset)")
                #expect(message.tstype == "create")
            }
            #expect(broker.offsets(topic: topic, partition: 0)?.highWatermark == 50)

            // librdkafka compressed with the codec asked for, and the broker kept its batches that way. librdkafka
            // decides from ApiVersions whether the broker takes a codec: it sends LZ4 only to a broker that
            // advertises FindCoordinator v0 (zstd: Produce v7), and silently sends uncompressed batches otherwise.
            let connection = try await broker.connect()
            let stored = try await connection.fetchAll(topic: topic)
            await connection.close()
            #expect(!stored.batches.isEmpty)
            #expect(stored.batches.map(\.compression.description) == Array(repeating: codec, count: stored.batches.count),
                    "librdkafka did not send \(codec) batches; see its feature detection with `kcat -d feature,protocol`")
        }
    }

    @Test("a 1 MiB value round-trips intact on a topic whose max.message.bytes allows it")
    func oneMebibyteValue() async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            try broker.createTopic("kcat-large", partitions: 1, configs: ["max.message.bytes": "3000000"])
            let value = largeValue(count: 1_048_576)
            try await kcat.produce(broker.bootstrapServers, topic: "kcat-large", lines: ["large:\(value)"],
                                   ["-K:", "-X", "message.max.bytes=3000000"])
            // librdkafka's default fetch.message.max.bytes is 1 MiB: the broker must still hand out the whole
            // (larger) first batch, as Kafka does.
            let messages = try await kcat.consume(broker.bootstrapServers, topic: "kcat-large")
            try #require(messages.count == 1)
            #expect(messages[0].offset == 0)
            #expect(messages[0].key == "large")
            #expect(messages[0].payload?.utf8.count == 1_048_576)
            #expect(messages[0].payload == value)
            #expect(broker.offsets(topic: "kcat-large", partition: 0)?.highWatermark == 1)
        }
    }

    @Test("a 1 MiB value is refused on a topic with the default max.message.bytes")
    func oversizedValueRefused() async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            try broker.createTopic("kcat-default-limit", partitions: 1)
            let output = try await kcat.run(
                ["-P", "-b", broker.bootstrapServers, "-t", "kcat-default-limit", "-K:", "-X", "message.max.bytes=3000000"],
                stdin: Data("large:\(largeValue(count: 1_048_576))\n".utf8))
            #expect(!output.succeeded, "kcat reported success; stderr:\n\(output.stderr)")
            #expect(output.stderr.contains("Message size too large"), "\(output.summary)")
            #expect(broker.offsets(topic: "kcat-default-limit", partition: 0)?.highWatermark == 0)
        }
    }

    @Test("records produced with -p land in that partition, and kcat reads them back from it")
    func explicitPartitions() async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            try broker.createTopic("kcat-partitions", partitions: 4)
            for partition in 0..<4 {
                let lines = (0..<5).map { "p\(partition)-k\($0):partition \(partition) record \($0)" }
                try await kcat.produce(broker.bootstrapServers, topic: "kcat-partitions", lines: lines,
                                       ["-p", "\(partition)", "-K:"])
            }
            let messages = try await kcat.consume(broker.bootstrapServers, topic: "kcat-partitions")
            #expect(messages.count == 20)
            for partition in Int32(0)..<4 {
                let inPartition = messages.filter { $0.partition == partition }
                #expect(inPartition.map(\.offset) == [0, 1, 2, 3, 4], "offsets in partition \(partition)")
                #expect(inPartition.map(\.key) == (0..<5).map { "p\(partition)-k\($0)" })
                #expect(inPartition.map(\.payload) == (0..<5).map { "partition \(partition) record \($0)" })
                #expect(broker.offsets(topic: "kcat-partitions", partition: partition)?.highWatermark == 5)
            }
        }
    }

    @Test("keyed records land in the partition librdkafka's consistent partitioner picks, in order per partition")
    func keyedPartitioning() async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            try broker.createTopic("kcat-keyed", partitions: 3)
            let records = (0..<30).map { TextRecord(key: "user-\($0 % 10)", value: "event \($0)") }
            try await kcat.produce(broker.bootstrapServers, topic: "kcat-keyed",
                                   lines: records.map { "\($0.key!):\($0.value!)" },
                                   ["-K:", "-X", "topic.partitioner=consistent"])
            let messages = try await kcat.consume(broker.bootstrapServers, topic: "kcat-keyed")
            #expect(messages.count == 30)

            func partition(of key: String) -> Int32 { Int32(crc32(Array(key.utf8)) % 3) }
            for target in Int32(0)..<3 {
                let expected = records.filter { partition(of: $0.key!) == target }
                let inPartition = messages.filter { $0.partition == target }
                #expect(inPartition.map(\.key) == expected.map(\.key), "keys in partition \(target)")
                #expect(inPartition.map(\.payload) == expected.map(\.value), "values in partition \(target)")
                #expect(inPartition.map(\.offset) == Array(0..<Int64(expected.count)))
                #expect(broker.offsets(topic: "kcat-keyed", partition: target)?.highWatermark == Int64(expected.count))
            }
        }
    }

    @Test("metadata lists this broker as the leader of every partition, at its address")
    func metadataListing() async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            try broker.createTopic("kcat-metadata", partitions: 3)
            let output = try await kcat.run(["-L", "-J", "-b", broker.bootstrapServers, "-t", "kcat-metadata"])
            try #require(output.succeeded, "\(output.summary)")
            let metadata = try JSONDecoder().decode(KcatMetadata.self, from: output.stdout)
            #expect(metadata.brokers.map(\.name) == [broker.bootstrapServers])
            let topic = try #require(metadata.topics.first { $0.topic == "kcat-metadata" })
            #expect(topic.partitions.map(\.partition).sorted() == [0, 1, 2])
            #expect(topic.partitions.allSatisfy { $0.leader == metadata.brokers.first?.id })
        }
    }
}

/// A value of `count` printable ASCII bytes without the line or key delimiters, varied so that no codec or
/// dedup shortcut can hide a mistake.
func largeValue(count: Int) -> String {
    var state: UInt32 = 0x2545_F491
    var bytes = [UInt8](repeating: 0, count: count)
    for index in 0..<count {
        state = state &* 1_664_525 &+ 1_013_904_223
        bytes[index] = UInt8(97 + (state >> 24) % 26)  // a...z
    }
    return String(decoding: bytes, as: UTF8.self)
}

// MARK: - librdkafka's consistent partitioner

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
