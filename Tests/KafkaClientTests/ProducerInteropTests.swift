import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// What this package's producer writes, read back by implementations that share no code with it: librdkafka (kcat)
/// and kafka-python against the in-process MockBroker, and this package's raw Fetch against Tansu, a Kafka-protocol
/// broker written independently. Every key, value, header, timestamp and partition is compared byte for byte with
/// what was sent and with what the delivery reports said.
///
/// The cases run one at a time: each starts peer processes, and the other suites' tests bound some waits.
@Suite("Producer interoperability", .serialized, .timeLimit(.minutes(2)))
struct ProducerInteropTests {}

extension ProducerInteropTests {
    @Suite("Producer records read back by kcat (librdkafka) and kafka-python")
    struct ReadBack {
        static let partitions: Int32 = 4

        @Test("kcat reads every record with the key, value, headers, timestamp and partition the delivery report gave",
              .requires(.kcat),
              arguments: CompressionCodec.allCases)
        func kcatReadsEveryRecord(codec: CompressionCodec) async throws {
            let kcat = try Kcat()
            try await withSamplesProduced(codec: codec, topic: "producer-kcat-\(codec)") { broker, topic, delivered in
                let messages = try await kcat.consume(broker.bootstrapServers, topic: topic)
                let read = messages.map { message in
                    ReadRecord(partition: message.partition, offset: message.offset, timestamp: message.ts,
                               key: message.key.map { Array($0.utf8) }, value: message.payload.map { Array($0.utf8) },
                               headers: message.headerList.map { SampleHeader(name: $0.name, value: $0.value.map { Array($0.utf8) }) })
                }
                #expect(messages.allSatisfy { $0.topic == topic && $0.tstype == "create" })
                expectSameRecords(read, delivered, reader: "kcat")
            }
        }

        @Test("kafka-python reads every record exactly, keyed ones in the partition of its own murmur2",
              .requires(.kafkaPython),
              arguments: CompressionCodec.allCases)
        func kafkaPythonReadsEveryRecord(codec: CompressionCodec) async throws {
            let python = try await KafkaPythonScript(named: "kafka_python_reader.py")
            try await withSamplesProduced(codec: codec, topic: "producer-python-\(codec)") { broker, topic, delivered in
                let consumed: PythonReadResult = try await python.run("consume", ["--topic", topic], bootstrap: broker.bootstrapServers)
                #expect(consumed.partitionCount == Int(Self.partitions))
                #expect(consumed.endOffsets.values.reduce(0, +) == Int64(delivered.count))
                let read = try consumed.records.map { try $0.readRecord() }
                #expect(consumed.records.allSatisfy { $0.timestampType == 0 }, "every record keeps its CreateTime")
                expectSameRecords(read, delivered, reader: "kafka-python")

                // kafka-python's murmur2 is a port of the Java client's: a keyed record the partitioner placed must sit in
                // toPositive(murmur2(key)) % partitions by that independent implementation too.
                let placedByKey = consumed.records.filter { record in
                    delivered.contains { $0.partition == record.partition && $0.offset == record.offset && $0.sample.placedByKey }
                }
                #expect(placedByKey.count == delivered.count { $0.sample.placedByKey })
                for record in placedByKey {
                    #expect(record.keyPartition == record.partition, "key \(record.key ?? "null") at \(record.partition)@\(record.offset)")
                }
            }
        }

        /// Produces the sample records with `codec` to `topic` (``partitions`` partitions) on an in-process broker,
        /// expects every stored batch to be compressed with `codec` (the reader must decompress what this package's
        /// producer compressed), then runs `body` with the broker, the topic and the delivered records.
        private func withSamplesProduced(codec: CompressionCodec, topic: String,
                                         _ body: (MockBroker, String, [DeliveredRecord]) async throws -> Void) async throws {
            try await withBroker { broker in
                try broker.createTopic(topic, partitions: Self.partitions)
                let delivered = try await produceSamples(producerConfiguration(broker) { $0.compression = codec }, topic: topic,
                                                       partitions: Self.partitions)
                let connection = try await broker.connect()
                var codecs: [CompressionCodec] = []
                for partition in 0..<Self.partitions {
                    codecs += try await connection.fetchAll(topic: topic, partition: partition).batches.map(\.compression)
                }
                await connection.close()
                #expect(!codecs.isEmpty && Set(codecs) == [codec], "stored batch codecs: \(codecs)")
                try await body(broker, topic, delivered)
            }
        }
    }

    @Suite("Producer against Tansu, an independent Kafka-protocol broker",
           .requires(.tansu))
    struct Tansu {
        @Test("the default (acks=all, idempotent) producer delivers every record; raw Fetch reads each back exactly where reported",
              arguments: CompressionCodec.allCases)
        func deliversToTansu(codec: CompressionCodec) async throws {
            let binary = try await Peers.requireTansu()
            try await withTansu(binary: binary) { tansu in
                let topic = "producer-tansu-\(codec)"
                try await tansu.createTopic(topic, partitions: 3)
                // Only the codec and this suite's safety bounds differ from the defaults.
                let configuration = producerConfiguration(bootstrapServers: tansu.bootstrapServers) { $0.compression = codec }
                #expect(configuration.acks == .all && configuration.isIdempotent)
                let delivered = try await produceSamples(configuration, topic: topic)

                // Tansu answers a Fetch that may not wait (max_wait_ms 0) with no partitions at all, hence the wait.
                let connection = try await tansu.connect()
                var read: [ReadRecord] = []
                var batches: [RecordBatch] = []
                do {
                    for partition in Int32(0)..<3 {
                        let stored = try await connection.fetchAll(topic: topic, partition: partition, maxWaitMs: 500)
                        batches += stored.batches
                        read += try stored.batches.flatMap { try $0.allRecords() }.map { ReadRecord(partition: partition, $0) }
                    }
                    await connection.close()
                } catch {
                    await connection.close()
                    throw error
                }
                expectSameRecords(read, delivered, reader: "Fetch from Tansu")
                // Idempotence was on: Tansu handed out a producer id, and the batches carry it with their sequences.
                #expect(!batches.isEmpty && batches.allSatisfy { $0.producerId >= 0 && $0.baseSequence >= 0 })
                #expect(Set(batches.map(\.compression)) == [codec], "Tansu kept the batches as the producer compressed them")
            }
        }

        @Test("a topic the producer names is created by Tansu's Metadata and the record is delivered there")
        func autoCreatedTopic() async throws {
            let binary = try await Peers.requireTansu()
            try await withTansu(binary: binary) { tansu in
                let producer = try KafkaProducer(configuration: producerConfiguration(bootstrapServers: tansu.bootstrapServers),
                                                 logger: testLogger)
                let result: Result<RecordMetadata, KafkaProducerError>
                do throws(KafkaProducerError) {
                    result = .success(try await producer.send(ProducerRecord(topic: "producer-tansu-auto", key: "k", value: "v",
                                                                              timestamp: 1_700_000_000_000)))
                } catch {
                    result = .failure(error)
                }
                await producer.shutdown()
                let metadata = try result.get()
                #expect(metadata.offset == 0 && metadata.timestamp == 1_700_000_000_000)

                let connection = try await tansu.connect()
                let records = try await connection.fetchRecords(topic: "producer-tansu-auto", partition: metadata.partition,
                                                               maxWaitMs: 500)
                await connection.close()
                #expect(records.map(\.keyString) == ["k"] && records.map(\.valueString) == ["v"])
            }
        }
    }
}

// MARK: - The sample records

/// A header as bytes (nil: a null value).
struct SampleHeader: Hashable, CustomStringConvertible {
    var name: String
    var value: [UInt8]?
    var description: String { "\(name)=\(value.map { String(decoding: $0, as: UTF8.self) } ?? "null")" }
}

/// A record given to the producer, and the bytes it must come back with.
struct SampleRecord {
    var record: ProducerRecord
    var key: [UInt8]?
    var value: [UInt8]?
    var headers: [SampleHeader]
    var timestamp: Int64

    /// Whether the partitioner placed it by its key (a key and no explicit partition).
    var placedByKey: Bool { key != nil && record.partition == nil }
}

/// A sample and where its delivery report put it.
struct DeliveredRecord {
    var sample: SampleRecord
    var partition: Int32
    var offset: Int64
}

/// A record as a reader returned it.
struct ReadRecord: CustomStringConvertible {
    var partition: Int32
    var offset: Int64
    var timestamp: Int64
    var key: [UInt8]?
    var value: [UInt8]?
    var headers: [SampleHeader]

    var description: String {
        func text(_ bytes: [UInt8]?) -> String { bytes.map { "\"\(String(decoding: $0.prefix(40), as: UTF8.self))\"" } ?? "null" }
        return "\(partition)@\(offset) ts=\(timestamp) key=\(text(key)) value=\(text(value)) headers=\(headers)"
    }
}

extension ReadRecord {
    /// A record this package's Fetch decoded, from `partition`.
    init(partition: Int32, _ record: Record) {
        self.init(partition: partition, offset: record.offset, timestamp: record.timestamp,
                  key: record.key.map { Array($0.readableBytesView) }, value: record.value.map { Array($0.readableBytesView) },
                  headers: record.headers.map { SampleHeader(name: $0.key, value: $0.value.map { Array($0.readableBytesView) }) })
    }
}

/// 48 records covering what a producer must carry unchanged: null, empty and non-ASCII keys given as `String`,
/// `[UInt8]` and `ByteBuffer`, repeated keys; null (tombstone), empty and non-ASCII values; no headers, one, several
/// with a null value, an empty value and a repeated name; keyless records and explicit partitions; a distinct
/// timestamp on each.
func sampleRecords(topic: String, partitions: Int32) -> [SampleRecord] {
    (0..<48).map { index in
        let keyText: String? = switch index % 8 {
        case 0, 6: nil
        case 1: ""
        case 2: "clé-\(index)-ü✓"
        case 3: "user-\(index % 5)"
        case 4: "buffer-key-\(index)"
        case 5: "order-\(index % 3)"
        default: "日本語キー-\(index)"
        }
        let valueText: String? = switch index % 6 {
        case 0: nil
        case 1: ""
        default: "valeur \(index) — naïve café ✓ 🚀 " + String(repeating: "compressible text, ", count: index % 7 + 3)
        }
        let headers: [SampleHeader] = switch index % 4 {
        case 0: []
        case 1: [SampleHeader(name: "trace-id", value: Array("t-\(index)".utf8))]
        case 2: [SampleHeader(name: "absent", value: nil), SampleHeader(name: "empty", value: []),
                 SampleHeader(name: "dup", value: Array("first".utf8)), SampleHeader(name: "dup", value: Array("second ✓".utf8)),
                 SampleHeader(name: "ünïcode-名前", value: Array("值-\(index)".utf8))]
        default: [SampleHeader(name: "source", value: Array("swift-kafka".utf8)), SampleHeader(name: "absent", value: nil)]
        }
        let timestamp = 1_700_000_000_000 + Int64(index) * 1000 + 7
        // Keys and values alternate between the three kinds of bytes the producer takes.
        func bytes(_ text: String?, kind: Int) -> (any KafkaBytes)? {
            guard let text else { return nil }
            return switch kind % 3 {
            case 0: text
            case 1: Array(text.utf8)
            default: ByteBuffer(string: text)
            }
        }
        let record = ProducerRecord(
            topic: topic, partition: index % 8 == 6 ? Int32(index / 8) % partitions : nil,
            key: bytes(keyText, kind: index), value: bytes(valueText, kind: index + 1),
            headers: headers.map { RecordHeader(key: $0.name, value: $0.value.map { ByteBuffer(bytes: $0) }) },
            timestamp: timestamp)
        return SampleRecord(record: record, key: keyText.map { Array($0.utf8) }, value: valueText.map { Array($0.utf8) },
                            headers: headers, timestamp: timestamp)
    }
}

/// Produces the sample records with `configuration` and returns each with where its delivery report put it. Fails
/// the test unless every record was delivered, explicit partitions were kept and several partitions were used.
func produceSamples(_ configuration: ProducerConfiguration, topic: String, partitions: Int32 = 3,
                    sourceLocation: SourceLocation = #_sourceLocation) async throws -> [DeliveredRecord] {
    let samples = sampleRecords(topic: topic, partitions: partitions)
    let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: configuration, logger: testLogger)
    var indexOf: [ProducerRecordID: Int] = [:]
    do {
        for (index, sample) in samples.enumerated() { indexOf[try await producer.enqueue(sample.record)] = index }
    } catch {
        await producer.shutdown()
        throw error
    }
    try await producer.flush()
    let reports = await collectReports(events, count: samples.count)
    await producer.shutdown()
    try #require(reports.count == samples.count, "\(reports.count) of \(samples.count) records were reported",
                 sourceLocation: sourceLocation)

    var delivered: [DeliveredRecord] = []
    for report in reports {
        let index = try #require(indexOf[report.id], "a report for an unknown record \(report.id)", sourceLocation: sourceLocation)
        switch report.result {
        case .success(let metadata):
            #expect(metadata.topic == topic, sourceLocation: sourceLocation)
            #expect(metadata.timestamp == samples[index].timestamp, "record \(index)", sourceLocation: sourceLocation)
            if let partition = samples[index].record.partition {
                #expect(metadata.partition == partition, "record \(index) had an explicit partition", sourceLocation: sourceLocation)
            }
            delivered.append(DeliveredRecord(sample: samples[index], partition: metadata.partition, offset: metadata.offset))
        case .failure(let error):
            Issue.record("record \(index) was not delivered: \(error)", sourceLocation: sourceLocation)
        }
    }
    try #require(delivered.count == samples.count, sourceLocation: sourceLocation)
    #expect(Set(delivered.map(\.partition)).count > 1, "the records should spread over several partitions",
            sourceLocation: sourceLocation)
    return delivered.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
}

/// Every delivered record was read exactly once, at the partition and offset its report gave, with the same key,
/// value, headers (names, values, order) and timestamp; nothing else was read.
func expectSameRecords(_ read: [ReadRecord], _ delivered: [DeliveredRecord], reader: String,
                       sourceLocation: SourceLocation = #_sourceLocation) {
    struct Place: Hashable { var partition: Int32; var offset: Int64 }
    let byPlace = Dictionary(read.map { (Place(partition: $0.partition, offset: $0.offset), [$0]) }, uniquingKeysWith: +)
    #expect(read.count == delivered.count, "\(reader) read \(read.count) records, \(delivered.count) were delivered",
            sourceLocation: sourceLocation)
    let unexpected = Set(byPlace.keys).subtracting(delivered.map { Place(partition: $0.partition, offset: $0.offset) })
    #expect(unexpected.isEmpty, "\(reader) read records nobody reported: \(unexpected)", sourceLocation: sourceLocation)
    for record in delivered {
        let place = Place(partition: record.partition, offset: record.offset)
        guard let found = byPlace[place], found.count == 1, let got = found.first else {
            Issue.record("\(reader): \(byPlace[place]?.count ?? 0) records at \(place.partition)@\(place.offset)", sourceLocation: sourceLocation)
            continue
        }
        let sample = record.sample
        #expect(got.key == sample.key, "\(reader) key at \(got)", sourceLocation: sourceLocation)
        #expect(got.value == sample.value, "\(reader) value at \(got)", sourceLocation: sourceLocation)
        #expect(got.headers == sample.headers, "\(reader) headers at \(got)", sourceLocation: sourceLocation)
        #expect(got.timestamp == sample.timestamp, "\(reader) timestamp at \(got)", sourceLocation: sourceLocation)
    }
}

// MARK: - kafka-python's output

/// What `Scripts/kafka_python_reader.py consume` prints.
struct PythonReadResult: Decodable {
    struct Record: Decodable {
        var partition: Int32
        var offset: Int64
        var timestamp: Int64
        var timestampType: Int
        /// Base64; nil for null.
        var key: String?
        var value: String?
        var headers: [[String?]]
        /// Where kafka-python's murmur2 puts the key; nil for a null key.
        var keyPartition: Int32?

        func readRecord() throws -> ReadRecord {
            func bytes(_ base64: String?) throws -> [UInt8]? {
                guard let base64 else { return nil }
                return Array(try #require(Data(base64Encoded: base64), "not base64: \(base64)"))
            }
            let headers = try self.headers.map { pair in
                try #require(pair.count == 2, "a header is not a name and a value: \(pair)")
                return SampleHeader(name: pair[0] ?? "", value: try bytes(pair[1]))
            }
            return ReadRecord(partition: partition, offset: offset, timestamp: timestamp, key: try bytes(key),
                              value: try bytes(value), headers: headers)
        }
    }

    var partitionCount: Int
    var endOffsets: [String: Int64]
    var records: [Record]
}
