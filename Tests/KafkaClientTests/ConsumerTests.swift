import Foundation
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import Logging
import MockBroker
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@testable import KafkaClient

/// Produces `count` records `k<i>`/`v<i>` with a header `i=<i>` (placed by key).
private func produce(_ broker: MockBroker, topic: String, count: Int, compression: CompressionCodec = .none) async throws {
    var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
    configuration.partitioner = .roundRobin
    configuration.compression = compression
    let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
    for index in 0..<count {
        try await producer.enqueue(ProducerRecord(topic: topic, key: "k\(index)", value: "v\(index)",
                                                  headers: [RecordHeader(key: "i", value: "\(index)")]))
    }
    await producer.shutdown()
}

private func assignedConsumer(_ broker: MockBroker, topic: String, partitions: Int32,
                              _ change: (inout ConsumerConfiguration) -> Void = { _ in }) throws -> KafkaConsumer {
    var configuration = ConsumerConfiguration(bootstrapServers: broker.bootstrapServers)
    configuration.autoOffsetReset = .earliest
    configuration.client.retryBackoff = .milliseconds(20)
    change(&configuration)
    let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger)
    try consumer.assign((0..<partitions).map { TopicPartition(topic: topic, partition: $0) })
    return consumer
}

/// The first error `consumer.records` throws within `seconds`, with the records read before it.
private func firstError(_ consumer: KafkaConsumer, within seconds: Double = 15) async -> (records: [String], error: (any Error)?) {
    await withTaskGroup(of: ([String], (any Error)?)?.self) { group in
        group.addTask {
            var values: [String] = []
            do {
                for try await record in consumer.records { values.append(String(buffer: record.value!)) }
                return (values, nil)
            } catch {
                return (values, error)
            }
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? ([], nil)
    }
}

private func values(_ records: [ConsumerRecord]) -> [String] { records.map { String(buffer: $0.value!) } }

@Suite("Consumer against the mock broker")
struct ConsumerTests {
    @Test("assigned partitions are read from the beginning with keys, values and headers")
    func assignedRead() async throws {
        try await withBroker { broker in
            try broker.createTopic("assigned", partitions: 3)
            try await produce(broker, topic: "assigned", count: 300)
            let consumer = try assignedConsumer(broker, topic: "assigned", partitions: 3)
            let records = try await consume(consumer, count: 300)
            #expect(records.count == 300)
            #expect(Set(values(records)) == Set((0..<300).map { "v\($0)" }))
            for record in records {
                let index = String(buffer: record.value!).dropFirst()
                #expect(record.key.map { String(buffer: $0) } == "k\(index)")
                #expect(Array(record.headers).first?.value.map { String(buffer: $0) } == String(index))
            }
            // Every position is at its partition's end.
            for partition: Int32 in 0..<3 {
                #expect(consumer.position(TopicPartition(topic: "assigned", partition: partition))
                        == broker.offsets(topic: "assigned", partition: partition)?.highWatermark)
            }
            await consumer.close()
        }
    }

    @Test("records read on the consumer's executor are handed out on its event loop, every record once")
    func readingOnTheConsumersExecutor() async throws {
        try await withBroker { broker in
            try broker.createTopic("executor", partitions: 3)
            try await produce(broker, topic: "executor", count: 300)
            let consumer = try assignedConsumer(broker, topic: "executor", partitions: 3)
            let outcome = try await withThrowingTaskGroup(of: (values: [String], offLoop: Int)?.self) { group in
                group.addTask(executorPreference: consumer.executor) {
                    var values: [String] = []
                    var offLoop = 0
                    for try await record in consumer.records {
                        if MultiThreadedEventLoopGroup.currentEventLoop !== consumer.cluster.eventLoop { offLoop += 1 }
                        values.append(String(buffer: record.value!))
                        if values.count == 300 { break }
                    }
                    return (values, offLoop)
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(20))
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            await consumer.close()
            let (values, offLoop) = try #require(outcome, "300 records within 20 s")
            #expect(offLoop == 0, "every record was handed out on the consumer's event loop")
            #expect(values.sorted() == (0..<300).map { "v\($0)" }.sorted())
        }
    }

    @Test("batches larger than max.partition.fetch.bytes are read whole, each partition in its turn, none skipped")
    func batchesLargerThanThePartitionLimit() async throws {
        try await withBroker { broker in
            try broker.createTopic("large-batches", partitions: 3)
            var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.partitioner = .roundRobin
            configuration.linger = .milliseconds(50)
            configuration.batchSize = 1 << 20
            let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
            let value = String(repeating: "x", count: 1000)
            for index in 0..<300 {
                try await producer.enqueue(ProducerRecord(topic: "large-batches", key: nil, value: "\(index):\(value)"))
            }
            await producer.shutdown()
            // Every batch holds many 1 KB records: each is larger than the 4 KB a partition may return, so only the
            // first partition with data in a response gets its batch (whole), and the others must wait their turn.
            let consumer = try assignedConsumer(broker, topic: "large-batches", partitions: 3) {
                $0.maxPartitionFetchBytes = 4096
            }
            let records = try await consume(consumer, count: 300)
            #expect(Set(values(records).map { $0.prefix { $0 != ":" } }) == Set((0..<300).map { "\($0)" }))
            await consumer.close()
        }
    }

    @Test("fetches cut inside a batch, as Kafka cuts them: the part is dropped and the batch read whole next time, every record once and in order")
    func fetchesEndingInsideABatch() async throws {
        try await withBroker({ $0.fetchPartialBatches = true }) { broker in
            try broker.createTopic("cut", partitions: 2)
            var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.partitioner = .roundRobin
            configuration.batchSize = 2000 // batches of about 2 KB: a 5,000-byte limit ends inside the third
            let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
            for index in 0..<3000 {
                try await producer.enqueue(ProducerRecord(topic: "cut", key: "k\(index)", value: "v\(index)"))
            }
            await producer.shutdown()
            // The broker answers this consumer's fetches with a part of a batch at the end.
            let connection = try await broker.connect()
            let answer = try await connection.fetch(topic: "cut", offset: 0, partitionMaxBytes: 5000)
            var reader = RecordBatchReader(try #require(answer.records?.buffer))
            while try reader.next() != nil {}
            #expect(reader.remainingBytes > 0)
            await connection.close()

            let consumer = try assignedConsumer(broker, topic: "cut", partitions: 2) { $0.maxPartitionFetchBytes = 5000 }
            let records = try await consume(consumer, count: 3000)
            #expect(Set(values(records)) == Set((0..<3000).map { "v\($0)" }))
            for partition: Int32 in 0..<2 {
                let offsets = records.filter { $0.partition == partition }.map(\.offset)
                #expect(offsets == Array(0..<Int64(offsets.count)), "offsets of partition \(partition) in order, none missing")
            }
            await consumer.close()
        }
    }

    @Test("every codec is decompressed; records and batches give the same records in partition order",
          arguments: CompressionCodec.allCases)
    func codecs(_ codec: CompressionCodec) async throws {
        try await withBroker { broker in
            let topic = "codec-\(codec)"
            try broker.createTopic(topic, partitions: 2)
            try await produce(broker, topic: topic, count: 2000, compression: codec)

            let oneByOne = try assignedConsumer(broker, topic: topic, partitions: 2)
            let records = try await consume(oneByOne, count: 2000)
            await oneByOne.close()
            let batched = try assignedConsumer(broker, topic: topic, partitions: 2)
            let batches = try await consume(batched, count: 2000, inBatches: true)
            await batched.close()

            #expect(records.count == 2000 && batches.count == 2000)
            #expect(Set(values(records)) == Set((0..<2000).map { "v\($0)" }))
            for partition: Int32 in 0..<2 {
                let offsets = records.filter { $0.partition == partition }.map(\.offset)
                #expect(offsets == Array(0..<Int64(offsets.count)), "offsets of partition \(partition) in order, none missing")
                #expect(values(records.filter { $0.partition == partition }) == values(batches.filter { $0.partition == partition }))
            }
        }
    }

    @Test("a batch corrupted on disk is a corruptRecords error, and is not skipped; with check.crcs off it is handed out")
    func corruptBatch() async throws {
        try await withBroker { broker in
            try broker.createTopic("corrupt", partitions: 1)
            var producerConfiguration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
            producerConfiguration.linger = .zero
            let producer = try KafkaProducer(configuration: producerConfiguration, logger: testLogger)
            for index in 0..<3 {
                _ = try await producer.send(ProducerRecord(topic: "corrupt", value: "record-\(index)-payload")) // one batch each
            }
            await producer.shutdown()

            // Flip one byte of the second record's value in the segment file (the broker serves the file as it is).
            let segment = try #require(broker.dataDirectory) + "/corrupt-0/00000000000000000000.log"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: segment))
            let target = try #require(bytes.range(of: Data("record-1-payload".utf8)))
            bytes[target.upperBound - 1] = UInt8(ascii: "X")
            try bytes.write(to: URL(fileURLWithPath: segment))

            let partition = TopicPartition(topic: "corrupt", partition: 0)
            let checking = try assignedConsumer(broker, topic: "corrupt", partitions: 1)
            let first = await firstError(checking)
            #expect(first.records == ["record-0-payload"])
            guard case .corruptRecords(let where_, _)? = first.error as? KafkaConsumerError else {
                Issue.record("expected corruptRecords, got \(String(describing: first.error))")
                return
            }
            #expect(where_ == partition)
            #expect(checking.position(partition) == 1, "the corrupt batch is not skipped")
            // Asking again gives the same error; seeking past the batch moves on.
            let again = await firstError(checking)
            #expect(again.records.isEmpty && again.error is KafkaConsumerError)
            try checking.seek(partition, to: 2)
            #expect(values(try await consume(checking, count: 1)) == ["record-2-payload"])
            await checking.close()

            let trusting = try assignedConsumer(broker, topic: "corrupt", partitions: 1) { $0.checkCRCs = false }
            #expect(values(try await consume(trusting, count: 3)) == ["record-0-payload", "record-1-payloaX", "record-2-payload"])
            await trusting.close()
        }
    }

    @Test("NOT_LEADER_OR_FOLLOWER answers and dropped connections are retried without losing or repeating a record")
    func fetchFaults() async throws {
        try await withBroker { broker in
            try broker.createTopic("faults", partitions: 2)
            try await produce(broker, topic: "faults", count: 200)
            try broker.injectFault(Fault(api: .fetch, topic: "faults", partition: 0, action: .error(.notLeaderOrFollower), count: 3))
            try broker.injectFault(Fault(api: .fetch, topic: "faults", action: .closeConnection, count: 1))
            let consumer = try assignedConsumer(broker, topic: "faults", partitions: 2)
            let records = try await consume(consumer, count: 200)
            #expect(records.count == 200)
            #expect(Set(values(records)).count == 200, "no record twice")
            #expect(broker.pendingFaults.isEmpty, "every fault was met")
            await consumer.close()
        }
    }

    @Test("a position out of range is reset by auto.offset.reset")
    func outOfRange() async throws {
        try await withBroker { broker in
            try broker.createTopic("range", partitions: 1)
            try await produce(broker, topic: "range", count: 10)
            let partition = TopicPartition(topic: "range", partition: 0)
            let consumer = try assignedConsumer(broker, topic: "range", partitions: 1)
            try consumer.seek(partition, to: 1000)
            let records = try await consume(consumer, count: 10)
            #expect(records.map(\.offset) == Array(0..<10))
            await consumer.close()
        }
    }

    @Test("auto-commit commits positions on its interval; async commits report their outcome, in order")
    func commits() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("commits", partitions: 1)
            try await produce(broker, topic: "commits", count: 50)
            let partition = TopicPartition(topic: "commits", partition: 0)

            let auto = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "auto") {
                $0.autoCommitInterval = .milliseconds(100)
            }, logger: testLogger)
            try auto.subscribe(topics: ["commits"])
            #expect(try await consume(auto, count: 50).count == 50)
            // No explicit commit: the interval commits what the application moved past (the 50th record may still
            // be in its hands), and close commits the rest.
            #expect(try await eventually { try await broker.committedOffsets(group: "auto").first?.offset == 49 })
            await auto.close()
            #expect(try await broker.committedOffsets(group: "auto").first?.offset == 50)

            let manual = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "manual") {
                $0.enableAutoCommit = false
            }, logger: testLogger)
            try manual.subscribe(topics: ["commits"])
            let outcomes = OutcomeLog()
            for _ in 0..<5 {
                _ = try await consume(manual, count: 10)
                let position = manual.position(partition)
                manual.commitAsync { result in Task { await outcomes.append(position, result) } }
            }
            let allReported = await eventually { await outcomes.entries.count == 5 }
            let entries = await outcomes.entries
            let allSucceeded = entries.allSatisfy(\.succeeded)
            #expect(allReported && allSucceeded)
            #expect(try await manual.committed([partition])[partition]?.offset == 50)
            #expect(try await broker.committedOffsets(group: "manual").first?.offset == 50)
            await manual.close()
        }
    }

    @Test("assign with auto-commit commits what was processed of the partitions it gives up")
    func reassignCommitsGivenUpPartitions() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("first")
            try broker.createTopic("second")
            try await produce(broker, topic: "first", count: 10)
            try await produce(broker, topic: "second", count: 10)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "reassign") {
                $0.autoCommitInterval = .seconds(600) // only the reassignment commits in this test
            }, logger: testLogger)
            try consumer.assign([TopicPartition(topic: "first", partition: 0)])
            // Six handed out; asking for the sixth marked the fifth processed.
            #expect(try await consume(consumer, count: 6).map(\.offset) == Array(0..<6))
            try consumer.assign([TopicPartition(topic: "second", partition: 0)])
            #expect(try await eventually {
                try await broker.committedOffsets(group: "reassign").map { "\($0.topic):\($0.offset)" } == ["first:5"]
            })
            #expect(try await consume(consumer, count: 10).allSatisfy { $0.topic == "second" })
            await consumer.close()
            let committed = try await broker.committedOffsets(group: "reassign").map { "\($0.topic):\($0.offset)" }
            #expect(committed == ["first:5", "second:10"])
        }
    }

    @Test("as a Service it runs until graceful shutdown, then commits and leaves the group")
    func service() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("service", partitions: 2)
            try await produce(broker, topic: "service", count: 20)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "service"), logger: testLogger)
            try consumer.subscribe(topics: ["service"])
            let group = ServiceGroup(configuration: .init(services: [consumer], logger: testLogger))
            let running = Task { try await group.run() }
            #expect(try await consume(consumer, count: 20).count == 20)
            #expect(try await eventually { try await broker.describeGroup("service")?.members.count == 1 })

            await group.triggerGracefulShutdown()
            try await running.value
            let snapshot = try await broker.describeGroup("service")
            #expect(snapshot?.members.isEmpty == true, "the member left")
            let committed = try await broker.committedOffsets(group: "service")
            #expect(committed.count == 2)
            for offset in committed {
                #expect(offset.offset == broker.offsets(topic: "service", partition: offset.partition)?.highWatermark,
                        "positions committed on close")
            }
        }
    }

    @Test("a fetch error that does not go away is reported once and retried at a slow pace, not in a loop")
    func persistentFetchError() async throws {
        try await withBroker { broker in
            try broker.createTopic("broken")
            try await produce(broker, topic: "broken", count: 5)
            try broker.injectFault(Fault(api: .fetch, topic: "broken", action: .error(.corruptMessage), count: 100_000))
            let consumer = try assignedConsumer(broker, topic: "broken", partitions: 1)
            let first = await firstError(consumer)
            guard case .broker(.corruptMessage, _)? = first.error as? KafkaConsumerError else {
                Issue.record("expected CORRUPT_MESSAGE, got \(String(describing: first.error))")
                return
            }
            let (fetches, elapsed) = try await requests("Fetch", to: broker, during: .seconds(2))
            // One retry per retry.backoff.max.ms (1 s) at most; a loop would send thousands.
            let seconds = Int64(elapsed / .seconds(1))
            #expect(fetches <= seconds + 2, "\(fetches) fetches in about \(seconds) s")
            #expect(consumer.bufferedBytes == 0)

            try broker.clearFaults()
            #expect(values(try await consume(consumer, count: 5, within: 20)) == (0..<5).map { "v\($0)" })
            await consumer.close()
        }
    }

    @Test("a committed-offset lookup that keeps failing is reported once and retried slowly")
    func failingOffsetLookup() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("guarded")
            try await produce(broker, topic: "guarded", count: 5)
            try broker.injectFault(Fault(api: .offsetFetch, group: "guarded", action: .error(.groupAuthorizationFailed), count: 100_000))
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "guarded"), logger: testLogger)
            try consumer.assign([TopicPartition(topic: "guarded", partition: 0)])
            let first = await firstError(consumer)
            guard case .broker(.groupAuthorizationFailed, _)? = first.error as? KafkaConsumerError else {
                Issue.record("expected GROUP_AUTHORIZATION_FAILED, got \(String(describing: first.error))")
                return
            }
            let (lookups, elapsed) = try await requests("OffsetFetch", to: broker, during: .seconds(2))
            let seconds = Int64(elapsed / .seconds(1))
            #expect(lookups <= seconds + 2, "\(lookups) lookups in about \(seconds) s")

            try broker.clearFaults()
            #expect(try await consume(consumer, count: 5, within: 20).count == 5)
            await consumer.close()
        }
    }

    @Test("a partition of a topic that does not exist asks for metadata at the retry pace, not in a loop")
    func missingTopicMetadata() async throws {
        try await withBroker({ $0.autoCreateTopics = false }) { broker in
            let consumer = try assignedConsumer(broker, topic: "absent", partitions: 1)
            let reading = Task { try await consume(consumer, count: 1, within: 2) }
            let start = ContinuousClock.now
            _ = try await reading.value
            let requests = broker.statistics.requests["Metadata"] ?? 0
            // retry.backoff.ms is 20 ms here: about fifty in a second, not thousands.
            let intervals = Int64((ContinuousClock.now - start) / .milliseconds(20))
            #expect(requests <= intervals + 5, "\(requests) metadata requests in \(intervals) retry intervals")
            await consumer.close()
        }
    }
}

/// Outcomes of async commits, in the order they completed.
private actor OutcomeLog {
    struct Entry {
        var position: Int64?
        var succeeded: Bool
    }

    private(set) var entries: [Entry] = []

    func append(_ position: Int64?, _ result: Result<Void, KafkaConsumerError>) {
        if case .success = result { entries.append(Entry(position: position, succeeded: true)) } else {
            entries.append(Entry(position: position, succeeded: false))
        }
    }
}

@Suite("Reading fetched partitions")
struct PartitionReaderTests {
    /// A transactional or plain batch of string values at `offset`.
    private func batch(at offset: Int64, _ values: [String], producer: Int64 = -1, transactional: Bool = false) throws -> ByteBuffer {
        var builder = RecordBatchBuilder()
        builder.baseOffset = offset
        builder.producerId = producer
        builder.producerEpoch = producer >= 0 ? 0 : -1
        builder.baseSequence = producer >= 0 ? 0 : -1
        builder.isTransactional = transactional
        for value in values { builder.append(timestamp: 1000, key: nil, value: ByteBuffer(string: value)) }
        return try builder.build()
    }

    /// A transaction marker (control batch) of `producer` at `offset`: abort (0) or commit (1).
    private func marker(at offset: Int64, producer: Int64, commit: Bool) throws -> ByteBuffer {
        var builder = RecordBatchBuilder()
        builder.baseOffset = offset
        builder.producerId = producer
        builder.producerEpoch = 0
        builder.isTransactional = true
        builder.isControl = true
        var key = ByteBuffer()
        key.writeInteger(Int16(0)) // version
        key.writeInteger(Int16(commit ? 1 : 0))
        var value = ByteBuffer()
        value.writeInteger(Int16(0))
        value.writeInteger(Int32(0)) // coordinator epoch
        builder.append(timestamp: 1000, key: key, value: value)
        return try builder.build()
    }

    /// Offsets 0-1 plain; 2-3 producer 7's transaction, aborted at 4; 5-6 producer 8's, committed at 7.
    private func transactionalFetch(from fetchOffset: Int64 = 0) throws -> CompletedFetch {
        try fetch(of: [try batch(at: 0, ["plain-0", "plain-1"]),
                       try batch(at: 2, ["aborted-2", "aborted-3"], producer: 7, transactional: true),
                       try marker(at: 4, producer: 7, commit: false),
                       try batch(at: 5, ["committed-5", "committed-6"], producer: 8, transactional: true),
                       try marker(at: 7, producer: 8, commit: true)],
                  from: fetchOffset, aborted: [(producerId: 7, firstOffset: 2)])
    }

    private func fetch(of batches: [ByteBuffer], from fetchOffset: Int64 = 0,
                       aborted: [(producerId: Int64, firstOffset: Int64)] = []) throws -> CompletedFetch {
        var records = ByteBuffer()
        var next = fetchOffset
        for var part in batches {
            let batch = try RecordBatch(part)
            next = max(next, batch.nextOffset)
            records.writeBuffer(&part)
        }
        return CompletedFetch(partition: TopicPartition(topic: "txn", partition: 0), fetchOffset: fetchOffset, epoch: 1,
                              records: records, nextOffset: next, highWatermark: next, abortedTransactions: aborted)
    }

    /// A position at `offset`, in the epoch the test fetches were made in.
    private func position(at offset: Int64) -> PartitionPosition {
        let position = PartitionPosition(epoch: 1)
        position.set(offset, leaderEpoch: -1, epoch: 1)
        return position
    }

    private func reader(_ fetch: CompletedFetch, _ position: PartitionPosition, readCommitted: Bool = true,
                        released: ReleaseFlag = ReleaseFlag()) -> PartitionReader {
        PartitionReader(fetch, position: position, workspace: CompressionWorkspace(), checkCRCs: true,
                        maxDecompressedBytes: 1 << 20, readCommitted: readCommitted) { _, complete, _ in
            released.complete = complete
        }
    }

    private func readAll(_ fetch: CompletedFetch, readCommitted: Bool) throws -> (values: [String], position: Int64, complete: Bool) {
        let position = position(at: fetch.fetchOffset)
        let released = ReleaseFlag()
        var values: [String] = []
        do {
            let reader = reader(fetch, position, readCommitted: readCommitted, released: released)
            while let record = try reader.next() { values.append(String(buffer: record.value!)) }
        }
        return (values, position.next, released.complete ?? false)
    }

    @Test("read_committed leaves out aborted transactions and markers; the position still moves past them")
    func readCommitted() throws {
        let result = try readAll(try transactionalFetch(), readCommitted: true)
        #expect(result.values == ["plain-0", "plain-1", "committed-5", "committed-6"])
        #expect(result.position == 8)
        #expect(result.complete)
    }

    @Test("read_uncommitted sees every data record, aborted ones too, but never a marker")
    func readUncommitted() throws {
        let result = try readAll(try transactionalFetch(), readCommitted: false)
        #expect(result.values == ["plain-0", "plain-1", "aborted-2", "aborted-3", "committed-5", "committed-6"])
        #expect(result.position == 8)
    }

    @Test("a fetch that began inside a batch hands out only the records from the position on")
    func startsInsideBatch() throws {
        let position = position(at: 1)
        let reader = reader(try transactionalFetch(from: 1), position)
        let (records, error) = reader.readAll()
        #expect(error == nil)
        #expect(records.map { String(buffer: $0.value!) } == ["plain-1", "committed-5", "committed-6"])
        #expect(position.next == 8)
    }

    @Test("handing out a record marks the one before it processed; processed never runs ahead of the application")
    func processedTrailsHandedOut() throws {
        let position = position(at: 0)
        let reader = reader(try fetch(of: [try batch(at: 0, ["a", "b", "c"])]), position)
        _ = try reader.next()
        #expect(position.next == 1 && position.processed == 0, "a handed out, not yet processed")
        _ = try reader.next()
        #expect(position.next == 2 && position.processed == 1, "asking for b means a is done")
        reader.markAllProcessed()
        #expect(position.processed == 2)
    }

    @Test("a position set from outside (seek) stops a reader at its next record, and it does not move the position")
    func staleReaderStops() throws {
        let position = position(at: 0)
        let released = ReleaseFlag()
        do {
            let reader = reader(try fetch(of: [try batch(at: 0, ["a", "b", "c"])]), position, released: released)
            #expect(try reader.next().map { String(buffer: $0.value!) } == "a")
            position.set(0, leaderEpoch: -1, epoch: 2) // a seek back to 0
            #expect(try reader.next() == nil)
            #expect(reader.readAll().records.isEmpty)
        }
        #expect(position.next == 0)
        #expect(released.complete == true, "a stale reader asks for no resync")
    }

    @Test("a batch whose last records were compacted away moves the position to the batch's end, not to its last record")
    func compactedTail() throws {
        // A batch claiming offsets 10-14 that holds records only for 10 and 11 (the cleaner keeps lastOffsetDelta).
        var compacted = try batch(at: 10, ["x", "y"])
        compacted.setInteger(Int32(4), at: compacted.readerIndex + RecordBatchLayout.lastOffsetDelta)
        let checked = compacted.readerIndex + RecordBatchLayout.attributes
        let crc = compacted.withUnsafeReadableBytes { bytes in
            CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[(checked - compacted.readerIndex)...]))
        }
        compacted.setInteger(crc, at: compacted.readerIndex + RecordBatchLayout.crc)

        for batches in [false, true] {
            let position = position(at: 10)
            let released = ReleaseFlag()
            do {
                let reader = reader(try fetch(of: [compacted], from: 10), position, released: released)
                if batches {
                    #expect(reader.readAll().records.count == 2)
                } else {
                    while try reader.next() != nil {}
                }
            }
            #expect(position.next == 15, "otherwise the same batch would be fetched again and again")
            #expect(released.complete == true)
        }
    }

    @Test("batches: a failing batch after good ones returns the good records with the error; the position stays at the failure")
    func partialBatchesThenError() throws {
        var corrupt = try batch(at: 2, ["c", "d"])
        corrupt.setInteger(UInt32(0xDEAD_BEEF), at: corrupt.readerIndex + RecordBatchLayout.crc)
        let position = position(at: 0)
        let reader = reader(try fetch(of: [try batch(at: 0, ["a", "b"]), corrupt]), position)
        let (records, error) = reader.readAll()
        #expect(records.map { String(buffer: $0.value!) } == ["a", "b"])
        guard case .corruptRecords? = error else {
            Issue.record("expected corruptRecords, got \(String(describing: error))")
            return
        }
        #expect(position.next == 2, "a and b handed out, the corrupt batch not skipped")
    }
}

/// `@unchecked Sendable`: written by the reader's release callback and read after it, on the same task.
private final class ReleaseFlag: @unchecked Sendable {
    var complete: Bool?
}
