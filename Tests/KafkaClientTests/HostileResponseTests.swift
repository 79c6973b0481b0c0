import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// The client against answers that are wrong on the wire: a proxy between it and a mock broker spoils chosen
/// responses once. Every case ends with every record read exactly once, in order: a spoiled answer costs an error
/// the application sees (corrupt data) or a reconnect (a broken conversation), never a trap, a hang or a loss.
@Suite("The client against spoiled responses", .serialized, .timeLimit(.minutes(2)))
struct HostileResponseTests {
    static let records = 200

    /// A broker with `records` numbered records in one partition, a proxy in front of it, and a consumer that reads
    /// through the proxy without a group.
    func withSpoiledReads(_ fault: TamperingProxy.Fault?, maxDecompressedBytes: Int = 64 << 20,
                          reset: ConsumerConfiguration.OffsetReset = .earliest, requestTimeout: Duration = .seconds(10),
                          _ body: (TamperingProxy, KafkaConsumer, MockBroker) async throws -> Void) async throws {
        try await withBroker { broker in
            try broker.createTopic("spoiled")
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            for index in 0..<Self.records {
                try await producer.enqueue(ProducerRecord(topic: "spoiled", partition: 0, value: "record-\(index)"))
            }
            try await producer.flush()
            await producer.shutdown()

            let proxy = try await TamperingProxy.start(upstreamHost: broker.host, upstreamPort: broker.port)
            if let fault { proxy.inject(fault) }
            var configuration = ConsumerConfiguration(bootstrapServers: proxy.bootstrapServers, groupId: nil)
            configuration.autoOffsetReset = reset
            configuration.client.retryBackoff = .milliseconds(20)
            configuration.client.retryBackoffMax = .milliseconds(200)
            configuration.client.reconnectBackoff = .milliseconds(20)
            configuration.client.requestTimeout = requestTimeout
            configuration.maxDecompressedBatchBytes = maxDecompressedBytes
            let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger)
            try consumer.assign([TopicPartition(topic: "spoiled", partition: 0)])
            try await body(proxy, consumer, broker)
            await consumer.close()
            await proxy.stop()
        }
    }

    /// Reads until every record arrived (errors are collected, and reading goes on after each), bounded in time.
    func readAll(_ consumer: KafkaConsumer, within seconds: Double = 30) async -> (values: [String], errors: [KafkaConsumerError]) {
        var values: [String] = []
        var errors: [KafkaConsumerError] = []
        let deadline = ContinuousClock.now + .seconds(seconds)
        let reading = Task { [values] in
            var values = values
            var errors: [KafkaConsumerError] = []
            while values.count < Self.records, ContinuousClock.now < deadline, !Task.isCancelled {
                do throws(KafkaConsumerError) {
                    for try await record in consumer.records {
                        values.append(record.value.map { String(buffer: $0) } ?? "")
                        if values.count == Self.records { break }
                    }
                } catch {
                    errors.append(error)
                }
            }
            return (values, errors)
        }
        let watchdog = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            reading.cancel()
        }
        (values, errors) = await reading.value
        watchdog.cancel()
        return (values, errors)
    }

    var expected: [String] { (0..<Self.records).map { "record-\($0)" } }

    /// One more record in the topic, straight to the broker.
    func appendOne(to broker: MockBroker) async throws {
        let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
        _ = try await producer.send(ProducerRecord(topic: "spoiled", partition: 0, value: "record-\(Self.records)"))
        await producer.shutdown()
    }

    @Test("a record batch whose CRC does not match is reported as corrupt; reading again gets every record once")
    func badChecksum() async throws {
        try await withSpoiledReads(.flipRecordByte) { proxy, consumer, _ in
            let (values, errors) = await readAll(consumer)
            #expect(values == expected)
            #expect(errors.count == 1)
            guard case .corruptRecords(let partition, let reason)? = errors.first else {
                Issue.record("expected corruptRecords, got \(errors)")
                return
            }
            #expect(partition.topic == "spoiled" && reason.contains("CRC"), "\(reason)")
            #expect(proxy.statistics.faultsApplied == 1)
        }
    }

    @Test("a fetch that holds only part of a batch is reported once, without asking again in a tight loop")
    func truncatedBatch() async throws {
        try await withSpoiledReads(.truncateFirstBatch) { proxy, consumer, _ in
            let (values, errors) = await readAll(consumer)
            #expect(values == expected)
            #expect(errors.count == 1, "\(errors)")
            if case .corruptRecords = errors.first {} else { Issue.record("expected corruptRecords, got \(errors)") }
            // The partition waited (retry.backoff.max.ms) before being fetched again: a handful of fetches, not
            // thousands.
            #expect(proxy.statistics.fetchResponses < 50, "\(proxy.statistics.fetchResponses) fetches")
        }
    }

    @Test("a response with a correlation id nobody asked for closes the connection; the client reconnects")
    func wrongCorrelationId() async throws {
        // A request timeout far beyond the read's 30 s bound: reading everything within that bound proves the spoiled
        // answer was acted on when it came, not when the request it was taken for timed out.
        try await withSpoiledReads(.wrongCorrelationId, requestTimeout: .seconds(300)) { proxy, consumer, _ in
            let (values, errors) = await readAll(consumer, within: 30)
            #expect(values == expected, "the spoiled answer was not noticed at once, only at the request timeout")
            #expect(errors.isEmpty, "a broken conversation is the client's to mend: \(errors)")
            #expect(proxy.statistics.connectionsAccepted >= 2, "no reconnect")
        }
    }

    @Test("a frame that claims 2 GiB closes the connection before any of it is buffered; the client reconnects")
    func impossibleFrameLength() async throws {
        try await withSpoiledReads(.hugeFrameLength) { proxy, consumer, _ in
            let (values, errors) = await readAll(consumer)
            #expect(values == expected)
            #expect(errors.isEmpty, "\(errors)")
            #expect(proxy.statistics.connectionsAccepted >= 2, "no reconnect")
        }
    }

    @Test("a decompression bomb is refused at max.decompressed.batch.bytes with a typed error; memory stays bounded")
    func decompressionBomb() async throws {
        // 64 MiB of zeros compresses to a few kilobytes; the consumer may expand at most 1 MiB.
        var builder = RecordBatchBuilder(capacity: 65 << 20)
        builder.append(timestamp: 0, key: nil, value: ByteBuffer(repeating: 0, count: 64 << 20))
        let bomb = try builder.build(compression: .zstd)
        #expect(bomb.readableBytes < 100_000)
        try await withSpoiledReads(.replaceRecords(bomb), maxDecompressedBytes: 1 << 20) { proxy, consumer, _ in
            let (values, errors) = await readAll(consumer)
            #expect(values == expected)
            #expect(errors.count == 1, "\(errors)")
            if case .corruptRecords = errors.first {} else { Issue.record("expected corruptRecords, got \(errors)") }
        }
    }

    @Test("a leader that says the log diverges below what was fetched (KIP-320) moves the position back: records from there come again")
    func logTruncation() async throws {
        try await withSpoiledReads(nil) { proxy, consumer, broker in
            let (values, errors) = await readAll(consumer)
            #expect(values == expected && errors.isEmpty)
            // The next fetch with the partition in it (at offset 200, once a record arrives) is told the leader's
            // log diverges at 150.
            proxy.inject(.divergingEpoch(epoch: 0, endOffset: 150))
            try await appendOne(to: broker)
            var again: [(Int64, String)] = []
            for try await record in consumer.records {
                // bounded: the watchdog of readAll is gone, the test's time limit is the bound
                again.append((record.offset, record.value.map { String(buffer: $0) } ?? ""))
                if again.count == 50 { break }
            }
            #expect(again.map(\.0) == Array(150..<200))
            #expect(again.map(\.1) == Array(expected[150...]))
            #expect(consumer.position(TopicPartition(topic: "spoiled", partition: 0)) == 200)
        }
    }

    @Test("with auto.offset.reset=none a diverged log is reported as a typed error, not skipped over")
    func logTruncationReported() async throws {
        try await withSpoiledReads(nil, reset: .none) { proxy, consumer, broker in
            try consumer.seek(TopicPartition(topic: "spoiled", partition: 0), to: 0)
            let (values, _) = await readAll(consumer)
            #expect(values == expected)
            proxy.inject(.divergingEpoch(epoch: 0, endOffset: 150))
            try await appendOne(to: broker)
            do throws(KafkaConsumerError) {
                for try await _ in consumer.records { Issue.record("a record came after the divergence") }
            } catch {
                guard case .logTruncated(let partition, let fetched, let diverges) = error else {
                    Issue.record("unexpected \(error)")
                    return
                }
                #expect(partition.partition == 0 && fetched == 200 && diverges == 150)
            }
        }
    }

    @Test("a produce answer with a wrong correlation id or a 2 GiB length: the idempotent producer retries on a new connection and writes each record once",
          arguments: [TamperingProxy.Fault.wrongCorrelationId, .hugeFrameLength])
    func spoiledProduceResponses(fault: TamperingProxy.Fault) async throws {
        try await withBroker { broker in
            try broker.createTopic("answers")
            let proxy = try await TamperingProxy.start(upstreamHost: broker.host, upstreamPort: broker.port)
            proxy.inject(fault, count: 1, apis: [.produce])
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(bootstrapServers: proxy.bootstrapServers) {
                    $0.client.reconnectBackoff = .milliseconds(20)
                    $0.client.retryBackoff = .milliseconds(20)
                }, logger: testLogger)
            for index in 0..<Self.records {
                try await producer.enqueue(ProducerRecord(topic: "answers", partition: 0, value: "record-\(index)"))
            }
            let reports = await collectReports(events, count: Self.records)
            await producer.shutdown()
            await proxy.stop()
            #expect(reports.count == Self.records && reports.allSatisfy { if case .success = $0.result { true } else { false } })
            #expect(proxy.statistics.faultsApplied == 1)
            let stored = try await broker.connect().fetchRecords(topic: "answers", partition: 0)
            #expect(stored.map { $0.value.map { String(buffer: $0) } ?? "" } == expected, "each record once, in order")
        }
    }
}
