import Foundation
import KafkaClient
import KafkaTestSupport
import MockBroker
import Testing

@Suite("Consumer: poll, wakeup, lookups, close without commit")
struct ConsumerLookupAndPollTests {
    @Test("poll hands out at most max.poll.records per call, every record once and in order, and empty when nothing comes in time")
    func pollReturnsEverythingOnce() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("polled", partitions: 3)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            for index in 0..<900 {
                try await producer.enqueue(ProducerRecord(topic: "polled", partition: Int32(index % 3), value: "\(index)"))
            }
            try await producer.flush()
            await producer.shutdown()

            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "pollers") {
                $0.maxPollRecords = 100
            }, logger: testLogger)
            try consumer.subscribe(topics: ["polled"])
            var seen: [Int32: [Int64]] = [:]
            var calls = 0
            var total = 0
            while total < 900 && calls < 2_000 {
                let records = try await consumer.poll(timeout: .seconds(5))
                calls += 1
                #expect(records.count <= 100)
                for record in records { seen[record.partition, default: []].append(record.offset) }
                total += records.count
            }
            #expect(total == 900)
            for partition in Int32(0)..<3 { #expect(seen[partition] == Array(0..<300), "partition \(partition) in order, once each") }

            let before = ContinuousClock.now
            let nothing = try await consumer.poll(timeout: .milliseconds(300))
            #expect(nothing.isEmpty)
            #expect(ContinuousClock.now - before >= .milliseconds(300), "poll waited for its timeout")
            // What the last poll handed out counts as processed once poll is called again: commit() covers it.
            try await consumer.commit()
            let committed = try await consumer.committed((0..<3).map { TopicPartition(topic: "polled", partition: $0) })
            #expect(committed.values.map(\.offset).sorted() == [300, 300, 300])
            await consumer.close()
        }
    }

    @Test("wakeup interrupts a poll waiting for records, which throws wokenUp; the next poll works again")
    func wakeupInterruptsPoll() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("quiet", partitions: 1)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "sleepers"), logger: testLogger)
            try consumer.assign([TopicPartition(topic: "quiet", partition: 0)])
            let waiting = Task { () -> KafkaConsumerError? in
                do throws(KafkaConsumerError) {
                    _ = try await consumer.poll(timeout: .seconds(60))
                    return nil
                } catch {
                    return error
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            let before = ContinuousClock.now
            consumer.wakeup()
            let error = await waiting.value
            guard case .wokenUp = error else {
                Issue.record("expected wokenUp, got \(String(describing: error))")
                return
            }
            #expect(ContinuousClock.now - before < .seconds(30), "woken long before the poll's 60 s timeout")
            #expect(try await consumer.poll(timeout: .milliseconds(50)).isEmpty)
            await consumer.close()
        }
    }

    @Test("partitionsFor, listTopics, beginning and end offsets, and offsetsForTimes look the cluster up without subscribing")
    func lookups() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("looked-up", partitions: 2)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            for index in 0..<10 {
                _ = try await producer.send(ProducerRecord(topic: "looked-up", partition: 0, value: "\(index)",
                                                           timestamp: 1_000 + Int64(index) * 100))
            }
            #expect(try await producer.partitionsFor("looked-up").map(\.partition) == [0, 1])
            await producer.shutdown()
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "lookers"), logger: testLogger)
            let partitions = try await consumer.partitionsFor("looked-up")
            #expect(partitions.map(\.partition) == [0, 1])
            #expect(partitions.allSatisfy { $0.leader == broker.configuration.nodeId && $0.replicas == [broker.configuration.nodeId] && $0.inSyncReplicas == [broker.configuration.nodeId] })
            let topics = try await consumer.listTopics()
            #expect(topics["looked-up"]?.count == 2)
            #expect(topics.keys.allSatisfy { !$0.hasPrefix("__") }, "internal topics are left out")
            do throws(KafkaConsumerError) {
                _ = try await consumer.partitionsFor("no-such-topic", timeout: .seconds(2))
                Issue.record("an unknown topic has no partitions")
            } catch {
                #expect(error.brokerErrorCode == .unknownTopicOrPartition)
            }
            let p0 = TopicPartition(topic: "looked-up", partition: 0)
            let p1 = TopicPartition(topic: "looked-up", partition: 1)
            #expect(try await consumer.beginningOffsets([p0, p1]) == [p0: 0, p1: 0])
            #expect(try await consumer.endOffsets([p0, p1]) == [p0: 10, p1: 0])
            let times = try await consumer.offsetsForTimes([p0: 1_250, p1: 0])
            #expect(times[p0] == OffsetAndTimestamp(offset: 3, timestamp: 1_300, leaderEpoch: times[p0]?.leaderEpoch))
            #expect(times[p1] == nil, "an empty partition has no record at or after any time")
            #expect(try await consumer.committed([p0]).isEmpty, "nothing committed yet")
            await consumer.close()
        }
    }

    @Test("close(timeout:commitOffsets: false) leaves the group without committing what was handed out")
    func closeWithoutCommitting() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("uncommitted", partitions: 1)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            for index in 0..<20 { try await producer.enqueue(ProducerRecord(topic: "uncommitted", value: "\(index)")) }
            try await producer.flush()
            await producer.shutdown()
            let partition = TopicPartition(topic: "uncommitted", partition: 0)

            // Auto-commit on, but its interval far beyond the test: the only commit that could happen is close's.
            let failing = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "careful") {
                $0.autoCommitInterval = .seconds(3600)
            }, logger: testLogger)
            try failing.subscribe(topics: ["uncommitted"])
            #expect(try await consume(failing, count: 20).count == 20)
            await failing.close(timeout: .seconds(10), commitOffsets: false)
            #expect(try await broker.committedOffsets(group: "careful").isEmpty)

            let committing = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "careful"), logger: testLogger)
            try committing.subscribe(topics: ["uncommitted"])
            let again = try await consume(committing, count: 20)
            #expect(again.first?.offset == 0, "the next member starts over: nothing was committed")
            await committing.close()
            #expect(try await broker.committedOffsets(group: "careful").first?.offset == 20)
            _ = partition
        }
    }

    @Test("records' keys and values read as String, [UInt8] and Data; Data values can be produced")
    func valueConveniences() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("values", partitions: 1)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            _ = try await producer.send(ProducerRecord(topic: "values", key: Data("k".utf8), value: Data([0xE2, 0x82, 0xAC]),
                                                       headers: [RecordHeader(key: "h", value: "1"), RecordHeader(key: "h", value: "2")]))
            _ = try await producer.send(ProducerRecord(topic: "values", key: nil, value: nil))
            await producer.shutdown()
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "readers"), logger: testLogger)
            try consumer.assign([TopicPartition(topic: "values", partition: 0)])
            let records = try await consume(consumer, count: 2)
            await consumer.close()
            try #require(records.count == 2)
            #expect(records[0].keyString == "k" && records[0].valueString == "€")
            #expect(records[0].valueBytes == [0xE2, 0x82, 0xAC] && records[0].valueData == Data([0xE2, 0x82, 0xAC]))
            #expect(records[0].headers["h"].map { String(buffer: $0) } == "2", "the last header of a key wins")
            #expect(records[0].headers.values(forKey: "h").count == 2)
            #expect(records[1].valueString == nil && records[1].keyBytes == nil && records[1].valueData == nil)
        }
    }

    @Test("an iterator kept in a main-actor variable can be advanced by hand")
    func iteratingByHandOnTheMainActor() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("by-hand", partitions: 1)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            _ = try await producer.send(ProducerRecord(topic: "by-hand", value: "one"))
            await producer.shutdown()
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "hands"), logger: testLogger)
            try consumer.assign([TopicPartition(topic: "by-hand", partition: 0)])
            #expect(try await Self.firstValueByHand(consumer) == "one")
            await consumer.close()
        }
    }

    /// What top-level code in a `main.swift` does (it runs on the main actor).
    @MainActor
    static func firstValueByHand(_ consumer: KafkaConsumer) async throws -> String? {
        var iterator = consumer.records.makeAsyncIterator()
        return try await iterator.next()?.valueString
    }
}

@Suite("Records made by hand")
struct HandMadeRecordTests {
    @Test("a ConsumerRecord, its headers, a RecordMetadata and a DeliveryReport can be made without a broker")
    func madeByHand() {
        let record = ConsumerRecord(topic: "t", partition: 2, offset: 7, key: ByteBuffer(string: "k"), value: ByteBuffer(string: "v"),
                                    headers: [RecordHeader(key: "a", value: "1"), RecordHeader(key: "b", value: nil),
                                              RecordHeader(key: "a", value: "2")])
        #expect(record.keyString == "k" && record.valueString == "v" && record.topicPartition == TopicPartition(topic: "t", partition: 2))
        #expect(record.headers.count == 3)
        #expect(Array(record.headers) == [RecordHeader(key: "a", value: "1"), RecordHeader(key: "b", value: nil), RecordHeader(key: "a", value: "2")])
        #expect(record.headers["a"].map { String(buffer: $0) } == "2" && record.headers["b"] == nil && record.headers["c"] == nil)
        let report = DeliveryReport(id: ProducerRecordID(rawValue: 1),
                                    result: .success(RecordMetadata(topic: "t", partition: 0, offset: 3, timestamp: 0)))
        #expect((try? report.result.get())?.offset == 3)
    }
}
