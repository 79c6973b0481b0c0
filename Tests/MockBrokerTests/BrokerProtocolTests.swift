import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

@Suite("Mock broker protocol behaviour")
struct BrokerProtocolTests {
    @Test("acks=0 gets no response, and the requests pipelined after it are answered in order")
    func acksZeroAndPipelining() async throws {
        try await withBroker { broker in
            try broker.createTopic("fire-and-forget")
            let connection = try await broker.connect()
            for index in 0..<5 {
                let request = ProduceRequest(acks: 0, timeoutMs: 1000, topicData: [.init(name: "fire-and-forget", partitionData: [
                    .init(index: 0, records: RecordSet(try makeBatch([TextRecord(key: "k\(index)", value: "v\(index)")]))),
                ])])
                try await connection.sendWithoutResponse(request)
            }
            // Twenty requests in flight at once on one connection, each matched to its own answer.
            try await withThrowingTaskGroup(of: (Int, Int16).self) { group in
                for index in 0..<20 {
                    group.addTask {
                        let response = try await connection.send(MetadataRequest(topics: [.init(name: "fire-and-forget")]))
                        return (index, response.topics.first?.errorCode ?? -1)
                    }
                }
                var answered = 0
                for try await (_, code) in group {
                    #expect(code == 0)
                    answered += 1
                }
                #expect(answered == 20)
            }
            let records = try await connection.fetchRecords(topic: "fire-and-forget", count: 5)
            #expect(records.map(\.valueString) == ["v0", "v1", "v2", "v3", "v4"])
            await connection.close()
        }
    }

    @Test("a fetch waiting for data (min_bytes) is woken by an append, and a fetch with nothing to wait for returns empty")
    func longPolling() async throws {
        try await withBroker { broker in
            try broker.createTopic("polled")
            let consumer = try await broker.connect()
            let producer = try await broker.connect()
            // Nothing there and a short wait: an empty answer, not a hang.
            let empty = try await consumer.fetch(topic: "polled", offset: 0, minBytes: 1, maxWaitMs: 50)
            #expect(empty.errorCode == 0 && empty.records?.byteCount == 0 && empty.highWatermark == 0)

            // A long wait that only an append can end early: the answer carries the appended record.
            async let waiting = consumer.fetch(topic: "polled", offset: 0, minBytes: 1, maxWaitMs: 30_000)
            try await Task.sleep(for: .milliseconds(100))
            _ = try await producer.append([TextRecord(key: "late", value: "arrival")], topic: "polled")
            let woken = try await waiting
            var reader = RecordBatchReader(try #require(woken.records?.buffer))
            let batch = try #require(try reader.next())
            #expect(try batch.allRecords().map(\.valueString) == ["arrival"])
            await consumer.close()
            await producer.close()
        }
    }

    @Test("max_bytes and partition_max_bytes cut the answer at a batch's end (or inside the next, as Kafka does), but the first batch always comes whole",
          arguments: [false, true])
    func byteLimits(fetchPartialBatches: Bool) async throws {
        try await withBroker({ $0.fetchPartialBatches = fetchPartialBatches }) { broker in
            try broker.createTopic("limits")
            let connection = try await broker.connect()
            let value = String(repeating: "x", count: 1000)
            for index in 0..<10 {
                _ = try await connection.append([TextRecord(key: "\(index)", value: value)], topic: "limits")
            }
            let one = try await connection.fetch(topic: "limits", offset: 0, partitionMaxBytes: 2500)
            var reader = RecordBatchReader(try #require(one.records?.buffer))
            var whole = 0
            while try reader.next() != nil { whole += 1 }
            #expect(whole == 2)
            if fetchPartialBatches {
                #expect(one.records?.byteCount == 2500 && reader.remainingBytes > 0)
            } else {
                #expect((one.records?.byteCount ?? 0) < 2500 && reader.remainingBytes == 0)
            }

            let tiny = try await connection.fetch(topic: "limits", offset: 3, maxBytes: 10, partitionMaxBytes: 10)
            var tinyReader = RecordBatchReader(try #require(tiny.records?.buffer))
            #expect(try tinyReader.next()?.baseOffset == 3)
            #expect(tinyReader.remainingBytes == 0)
            await connection.close()
        }
    }

    @Test("fetching outside the log is OFFSET_OUT_OF_RANGE with the partition's offsets")
    func offsetOutOfRange() async throws {
        try await withBroker { broker in
            try broker.createTopic("range")
            let connection = try await broker.connect()
            _ = try await connection.append([TextRecord(key: nil, value: "a"), TextRecord(key: nil, value: "b")], topic: "range")
            let answer = try await connection.fetch(topic: "range", offset: 7)
            #expect(answer.errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
            #expect(answer.highWatermark == 2 && answer.logStartOffset == 0 && answer.lastStableOffset == 2)
            await connection.close()
        }
    }

    @Test("fetch sessions: a full fetch opens one, incremental fetches carry only what changed, bad epochs are refused")
    func fetchSessions() async throws {
        try await withBroker { broker in
            try broker.createTopic("sessions", partitions: 2)
            let connection = try await broker.connect()
            _ = try await connection.append([TextRecord(key: nil, value: "p0")], topic: "sessions", partition: 0)
            func request(session: Int32, epoch: Int32, partitions: [(Int32, Int64)]) -> FetchRequest {
                FetchRequest(maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, isolationLevel: 0, sessionId: session,
                             sessionEpoch: epoch, topics: partitions.isEmpty ? [] : [.init(topic: "sessions", partitions: partitions.map {
                                 .init(partition: $0.0, fetchOffset: $0.1, partitionMaxBytes: 1 << 20)
                             })])
            }
            let full = try await connection.send(request(session: 0, epoch: 0, partitions: [(0, 0), (1, 0)]), version: 12)
            #expect(full.sessionId != 0 && full.responses.first?.partitions.count == 2)

            // Partition 0 moved to offset 1 (the client says so); partition 1 is unchanged: nothing new anywhere.
            let quiet = try await connection.send(request(session: full.sessionId, epoch: 1, partitions: [(0, 1)]), version: 12)
            #expect(quiet.errorCode == 0 && quiet.responses.isEmpty)

            _ = try await connection.append([TextRecord(key: nil, value: "p1")], topic: "sessions", partition: 1)
            let news = try await connection.send(request(session: full.sessionId, epoch: 2, partitions: []), version: 12)
            #expect(news.responses.flatMap(\.partitions).map(\.partitionIndex) == [1])
            #expect(news.responses.first?.partitions.first?.records?.byteCount ?? 0 > 0)

            let stale = try await connection.send(request(session: full.sessionId, epoch: 2, partitions: []), version: 12)
            #expect(stale.errorCode == KafkaErrorCode.invalidFetchSessionEpoch.rawValue)
            let unknown = try await connection.send(request(session: 999_999, epoch: 1, partitions: []), version: 12)
            #expect(unknown.errorCode == KafkaErrorCode.fetchSessionIdNotFound.rawValue)
            await connection.close()
        }
    }

    @Test("fetch v13+ names topics by id; an unknown id is UNKNOWN_TOPIC_ID")
    func fetchByTopicId() async throws {
        try await withBroker { broker in
            try broker.createTopic("by-id")
            let connection = try await broker.connect()
            _ = try await connection.append([TextRecord(key: "a", value: "b")], topic: "by-id")
            let data = try await connection.fetch(topic: "by-id", offset: 0, version: 17)
            #expect(data.errorCode == 0 && data.records?.byteCount ?? 0 > 0)
            let request = FetchRequest(maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, sessionEpoch: -1, topics: [
                .init(topicId: KafkaUUID.random(), partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1024)]),
            ])
            let unknown = try await connection.send(request, version: 17)
            #expect(unknown.responses.first?.partitions.first?.errorCode == KafkaErrorCode.unknownTopicId.rawValue)
            await connection.close()
        }
    }

    @Test("ListOffsets: earliest, latest, by timestamp (exact to the record), max timestamp, past the end")
    func listOffsets() async throws {
        try await withBroker { broker in
            try broker.createTopic("times")
            let connection = try await broker.connect()
            _ = try await connection.append((0..<3).map { TextRecord(key: nil, value: "a\($0)", timestamp: 1_000 + Int64($0) * 10) }, topic: "times")
            _ = try await connection.append((0..<3).map { TextRecord(key: nil, value: "b\($0)", timestamp: 2_000 + Int64($0) * 10) }, topic: "times")
            func lookup(_ timestamp: Int64) async throws -> ListOffsetsResponse.ListOffsetsPartitionResponse {
                let response = try await connection.send(ListOffsetsRequest(replicaId: -1, topics: [
                    .init(name: "times", partitions: [.init(partitionIndex: 0, timestamp: timestamp)]),
                ]))
                return try #require(response.topics.first?.partitions.first)
            }
            #expect(try await lookup(-2).offset == 0)
            #expect(try await lookup(-1).offset == 6)
            #expect(try await lookup(1_010).offset == 1)
            #expect(try await lookup(1_011).offset == 2)
            #expect(try await lookup(1_500).offset == 3)
            let max = try await lookup(-3)
            #expect(max.offset == 5 && max.timestamp == 2_020)
            #expect(try await lookup(9_999).offset == -1)
            await connection.close()
        }
    }

    @Test("CreateTopics, CreatePartitions, DescribeConfigs and DeleteTopics, with Kafka's errors")
    func topicAdministration() async throws {
        try await withBroker { broker in
            let connection = try await broker.connect()
            let created = try await connection.send(CreateTopicsRequest(topics: [
                .init(name: "admin", numPartitions: 2, replicationFactor: 1, configs: [.init(name: "retention.ms", value: "1000")]),
                .init(name: "bad/name", numPartitions: 1, replicationFactor: 1),
                .init(name: "replicated", numPartitions: 1, replicationFactor: 3),
                .init(name: "bad-config", numPartitions: 1, replicationFactor: 1, configs: [.init(name: "segment.bytes", value: "x")]),
            ], timeoutMs: 5000))
            #expect(created.topics.map(\.errorCode) == [0, KafkaErrorCode.invalidTopicException.rawValue,
                                                         KafkaErrorCode.invalidReplicationFactor.rawValue,
                                                         KafkaErrorCode.invalidConfig.rawValue])
            let again = try await connection.send(CreateTopicsRequest(topics: [.init(name: "admin", numPartitions: 1, replicationFactor: 1)],
                                                                      timeoutMs: 5000))
            #expect(again.topics.first?.errorCode == KafkaErrorCode.topicAlreadyExists.rawValue)

            let grown = try await connection.send(CreatePartitionsRequest(topics: [.init(name: "admin", count: 5)], timeoutMs: 5000))
            #expect(grown.results.first?.errorCode == 0)
            let shrunk = try await connection.send(CreatePartitionsRequest(topics: [.init(name: "admin", count: 3)], timeoutMs: 5000))
            #expect(shrunk.results.first?.errorCode == KafkaErrorCode.invalidPartitions.rawValue)
            let metadata = try await connection.send(MetadataRequest(topics: [.init(name: "admin")]))
            #expect(metadata.topics.first?.partitions.count == 5)

            let configs = try await connection.send(DescribeConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "admin", configurationKeys: ["retention.ms", "segment.bytes"]),
            ]))
            let entries = try #require(configs.results.first?.configs)
            let retention = try #require(entries.first { $0.name == "retention.ms" })
            #expect(retention.value == "1000" && retention.configSource == 1) // set on the topic
            let segment = try #require(entries.first { $0.name == "segment.bytes" })
            #expect(segment.value == "1073741824" && segment.configSource == 5) // the default

            let deleted = try await connection.send(DeleteTopicsRequest(topicNames: ["admin", "never-there"], timeoutMs: 5000), version: 5)
            #expect(deleted.responses.map(\.errorCode) == [0, KafkaErrorCode.unknownTopicOrPartition.rawValue])
            #expect(!broker.topicNames.contains("admin"))
            await connection.close()
        }
    }

    @Test("an idempotent producer's retry is acknowledged with its first offset and stored once; a gap is refused")
    func idempotentProduce() async throws {
        try await withBroker { broker in
            try broker.createTopic("idempotent")
            let connection = try await broker.connect()
            let identity = try await connection.send(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: -1))
            #expect(identity.errorCode == 0 && identity.producerId >= 0 && identity.producerEpoch == 0)
            func batch(_ sequence: Int32) throws -> ByteBuffer {
                try makeBatch([TextRecord(key: "s\(sequence)", value: "v")]) {
                    $0.producerId = identity.producerId
                    $0.producerEpoch = identity.producerEpoch
                    $0.baseSequence = sequence
                }
            }
            #expect(try await connection.produce(try batch(0), topic: "idempotent").baseOffset == 0)
            let retry = try await connection.produce(try batch(0), topic: "idempotent")
            #expect(retry.errorCode == 0 && retry.baseOffset == 0)
            let gap = try await connection.produce(try batch(5), topic: "idempotent")
            #expect(gap.errorCode == KafkaErrorCode.outOfOrderSequenceNumber.rawValue)
            #expect(broker.offsets(topic: "idempotent", partition: 0)?.highWatermark == 1)

            let bumped = try await connection.send(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: -1,
                                                                         producerId: identity.producerId, producerEpoch: 0))
            #expect(bumped.producerId == identity.producerId && bumped.producerEpoch == 1)
            let other = try await connection.send(InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: -1))
            #expect(other.producerId != identity.producerId)
            await connection.close()
        }
    }

    @Test("bad produce input gets a typed error and nothing is written", arguments: [
        "crc", "too-large", "unknown-topic", "magic-1", "two-batches", "control", "no-records", "acks-2",
    ])
    func rejectedProduce(problem: String) async throws {
        try await withBroker { broker in
            try broker.createTopic("strict", configs: ["max.message.bytes": "2000"])
            let connection = try await broker.connect()
            var batch = try makeBatch([TextRecord(key: "k", value: "v")])
            var topic = "strict"
            var acks: Int16 = -1
            var records: RecordSet? = nil
            let expected: KafkaErrorCode
            switch problem {
            case "crc":
                batch.setInteger(UInt8(0x7E), at: batch.writerIndex - 1)
                expected = .corruptMessage
            case "too-large":
                batch = try makeBatch([TextRecord(key: "k", value: String(repeating: "z", count: 3000))])
                expected = .messageTooLarge
            case "unknown-topic":
                topic = "missing"
                expected = .unknownTopicOrPartition
            case "magic-1":
                batch.setInteger(Int8(1), at: RecordBatchLayout.magic)
                expected = .unsupportedForMessageFormat
            case "two-batches":
                var two = batch
                two.writeImmutableBuffer(try makeBatch([TextRecord(key: "k2", value: "v2")]))
                batch = two
                expected = .invalidRecord
            case "control":
                batch = try makeBatch([TextRecord(key: "k", value: "v")]) { $0.isControl = true }
                expected = .invalidRecord
            case "no-records":
                batch = ByteBuffer()
                records = nil
                expected = .invalidRecord
            default:
                acks = 2
                expected = .invalidRequiredAcks
            }
            if problem != "no-records" { records = RecordSet(batch) }
            let response = try await connection.send(ProduceRequest(acks: acks, timeoutMs: 1000, topicData: [
                .init(name: topic, partitionData: [.init(index: 0, records: records)]),
            ]))
            let result = try #require(response.responses.first?.partitionResponses.first)
            #expect(result.errorCode == expected.rawValue, "\(problem): got \(KafkaErrorCode(rawValue: result.errorCode))")
            #expect(result.baseOffset == -1)
            #expect(broker.offsets(topic: "strict", partition: 0)?.highWatermark == 0)
            // The connection is still good.
            #expect(try await connection.append([TextRecord(key: "ok", value: "ok")], topic: "strict") == 0)
            await connection.close()
        }
    }

    @Test("DeleteRecords moves the low watermark that fetches and ListOffsets then report")
    func deleteRecords() async throws {
        try await withBroker { broker in
            try broker.createTopic("trim")
            let connection = try await broker.connect()
            for index in 0..<5 { _ = try await connection.append([TextRecord(key: nil, value: "\(index)")], topic: "trim") }
            let response = try await connection.send(DeleteRecordsRequest(topics: [
                .init(name: "trim", partitions: [.init(partitionIndex: 0, offset: 3)]),
            ], timeoutMs: 1000))
            let trimmed = try #require(response.topics.first?.partitions.first)
            #expect(trimmed.errorCode == 0 && trimmed.lowWatermark == 3)
            #expect(try await connection.fetch(topic: "trim", offset: 1).errorCode == KafkaErrorCode.offsetOutOfRange.rawValue)
            #expect(try await connection.fetchRecords(topic: "trim", from: 3, count: 2).map(\.valueString) == ["3", "4"])
            await connection.close()
        }
    }

    @Test("a restarted broker finds its topics and records in its data directory")
    func restart() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withBroker({ $0.dataDirectory = directory }) { broker in
            try broker.createTopic("durable", partitions: 2, configs: ["retention.ms": "-1"])
            let connection = try await broker.connect()
            _ = try await connection.append([TextRecord(key: "a", value: "1"), TextRecord(key: "b", value: "2")], topic: "durable", partition: 1)
            await connection.close()
        }
        try await withBroker({ $0.dataDirectory = directory }) { broker in
            #expect(broker.topicNames == ["durable"])
            let connection = try await broker.connect()
            let records = try await connection.fetchRecords(topic: "durable", partition: 1, count: 2)
            #expect(records.map(\.valueString) == ["1", "2"])
            #expect(try await connection.append([TextRecord(key: "c", value: "3")], topic: "durable", partition: 1) == 2)
            let configs = try await connection.send(DescribeConfigsRequest(resources: [
                .init(resourceType: 2, resourceName: "durable", configurationKeys: ["retention.ms"]),
            ]))
            #expect(configs.results.first?.configs.first?.value == "-1")
            await connection.close()
        }
    }

    @Test("OffsetForLeaderEpoch answers the end offset of the current epoch")
    func offsetForLeaderEpoch() async throws {
        try await withBroker { broker in
            try broker.createTopic("epochs")
            let connection = try await broker.connect()
            _ = try await connection.append([TextRecord(key: nil, value: "x"), TextRecord(key: nil, value: "y")], topic: "epochs")
            let response = try await connection.send(OffsetForLeaderEpochRequest(replicaId: -1, topics: [
                .init(topic: "epochs", partitions: [.init(partition: 0, currentLeaderEpoch: 0, leaderEpoch: 0)]),
            ]))
            let answer = try #require(response.topics.first?.partitions.first)
            #expect((answer.errorCode, answer.leaderEpoch, answer.endOffset) == (0, 0, 2))
            await connection.close()
        }
    }
}

@Suite("Mock broker lifecycle")
struct BrokerLifecycleTests {
    @Test("stopping the broker while a fetch long-polls ends the fetch instead of leaving it pending")
    func stopDuringLongPoll() async throws {
        let broker = try await MockBroker.start(configuration: { var c = MockBrokerConfiguration(); c.eventLoopThreads = 1; return c }(),
                                                logger: testLogger)
        try broker.createTopic("idle")
        let connection = try await broker.connect()
        async let waiting = connection.fetch(topic: "idle", offset: 0, minBytes: 1, maxWaitMs: 60_000)
        try await Task.sleep(for: .milliseconds(100))
        try await broker.stop()
        // Either an empty answer or a closed connection; what matters is that it returns.
        _ = try? await waiting
        await connection.close()
    }
}

@Suite("Mock broker coordinator lookup")
struct FindCoordinatorTests {
    @Test("FindCoordinator names the broker itself, for one key (v0–3) and several (v4+)")
    func findsItself() async throws {
        try await withBroker { broker in
            let connection = try await broker.connect()
            let single = try await connection.send(FindCoordinatorRequest(key: "group-a", keyType: 0), version: 3)
            #expect(single.errorCode == 0 && single.nodeId == 1 && single.port == Int32(broker.port))
            let old = try await connection.send(FindCoordinatorRequest(key: "group-a"), version: 0)
            #expect(old.errorCode == 0 && old.host == broker.host)
            let many = try await connection.send(FindCoordinatorRequest(keyType: 0, coordinatorKeys: ["a", "b"]), version: 6)
            #expect(many.coordinators.map(\.key) == ["a", "b"] && many.coordinators.allSatisfy { $0.nodeId == 1 && $0.errorCode == 0 })
            await connection.close()
        }
    }
}
