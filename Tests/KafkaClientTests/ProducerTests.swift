import Foundation
import KafkaClient
import KafkaCompression
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@Suite("Producer against the mock broker")
struct ProducerTests {
    @Test("awaited sends return partition and offset; keys land where the Java client puts them")
    func awaitedSends() async throws {
        try await withBroker { broker in
            try broker.createTopic("keyed", partitions: 6)
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            var placed: [String: Int32] = [:]
            for index in 0..<50 {
                let key = "key-\(index)"
                let metadata = try await producer.send(ProducerRecord(topic: "keyed", key: key, value: "value-\(index)"))
                #expect(metadata.partition == Array(key.utf8).withUnsafeBytes { Murmur2.partition(forKey: $0, partitionCount: 6) })
                #expect(metadata.offset >= 0)
                placed[key] = metadata.partition
            }
            await producer.shutdown()
            var total = 0
            for partition: Int32 in 0..<6 {
                let records = try await readPartition(broker, topic: "keyed", partition: partition)
                total += records.count
                for record in records { #expect(placed[record.keyString!] == partition) }
            }
            #expect(total == 50)
        }
    }

    @Test("every acks mode delivers every record once", arguments: [ProducerConfiguration.Acks.none, .leader, .all])
    func acksModes(acks: ProducerConfiguration.Acks) async throws {
        try await withBroker { broker in
            try broker.createTopic("acks")
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(broker) { $0.acks = acks }, logger: testLogger)
            for index in 0..<300 { try await producer.enqueue(ProducerRecord(topic: "acks", value: "v\(index)")) }
            let reports = await collectReports(events, count: 300)
            await producer.shutdown()
            #expect(reports.count == 300)
            let offsets = reports.compactMap { try? $0.result.get().offset }
            #expect(offsets.count == 300)
            if acks == .none {
                #expect(offsets.allSatisfy { $0 == -1 }) // the broker does not say
            } else {
                #expect(offsets.sorted() == Array(0..<300))
            }
            let stored = try await readPartition(broker, topic: "acks", partition: 0, expect: 300)
            #expect(stored.map(\.valueString) == (0..<300).map { "v\($0)" })
        }
    }

    @Test("reports read on the producer's executor arrive on its event loop: every record once, through many small batches")
    func reportsOnTheProducersExecutor() async throws {
        try await withBroker { broker in
            try broker.createTopic("executor", partitions: 3)
            // 1 KB batches: many requests in flight at once, each answering several batches.
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(broker) { $0.batchSize = 1024 }, logger: testLogger)
            let reading = Task(executorPreference: events.executor) { () -> (reports: [DeliveryReport], offLoop: Int) in
                var reports: [DeliveryReport] = []
                var offLoop = 0
                for await case .deliveryReports(let batch) in events {
                    if MultiThreadedEventLoopGroup.currentEventLoop == nil { offLoop += 1 }
                    reports += batch
                    if reports.count >= 3000 { break }
                }
                return (reports, offLoop)
            }
            var ids: [ProducerRecordID] = []
            for index in 0..<3000 { ids.append(try await producer.enqueue(ProducerRecord(topic: "executor", value: "value \(index)"))) }
            try await producer.flush()
            let (reports, offLoop) = await reading.value
            await producer.shutdown()
            #expect(offLoop == 0, "every report was read on an event loop")
            #expect(reports.map(\.id.rawValue).sorted() == ids.map(\.rawValue).sorted())
            let written = reports.compactMap { try? $0.result.get() }
            let offsets = Dictionary(grouping: written, by: \.partition).mapValues { $0.map(\.offset).sorted() }
            for (_, partitionOffsets) in offsets { #expect(partitionOffsets == Array(0..<Int64(partitionOffsets.count))) }
            #expect(offsets.values.map(\.count).reduce(0, +) == 3000)
        }
    }

    @Test("every codec: batches are stored compressed and read back exactly", arguments: CompressionCodec.allCases)
    func codecs(codec: CompressionCodec) async throws {
        try await withBroker { broker in
            try broker.createTopic("codecs")
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) {
                $0.compression = codec
                $0.linger = .milliseconds(50)
            }, logger: testLogger)
            let records = (0..<400).map { index in
                ProducerRecord(topic: "codecs", partition: 0, key: index % 5 == 0 ? nil : "k\(index)",
                               value: "the value of record \(index) repeats repeats repeats",
                               headers: [RecordHeader(key: "n", value: "\(index)")])
            }
            for record in records { try await producer.enqueue(record) }
            try await producer.flush()
            await producer.shutdown()
            let stored = try await readPartition(broker, topic: "codecs", partition: 0, expect: 400)
            #expect(stored.count == 400)
            for (record, original) in zip(stored, records) {
                #expect(record.keyString == (original.key as? String))
                #expect(record.valueString == (original.value as? String))
                #expect(record.headers == original.headers)
            }
            let batchCodecs = try await storedCodecs(broker, topic: "codecs")
            #expect(!batchCodecs.isEmpty && batchCodecs.allSatisfy { $0 == codec })
        }
    }

    @Test("3000 keys land on the partition of the Java formula toPositive(murmur2(key)) % partitions")
    func keyPlacement() async throws {
        try await withBroker { broker in
            try broker.createTopic("murmur", partitions: 7)
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: producerConfiguration(broker),
                                                                               logger: testLogger)
            var generator = SystemRandomNumberGenerator()
            var expected: [ProducerRecordID: (key: [UInt8], partition: Int32)] = [:]
            for index in 0..<3000 {
                let key = (0..<Int.random(in: 0...40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let id = try await producer.enqueue(ProducerRecord(topic: "murmur", key: key, value: "\(index)"))
                expected[id] = (key, key.withUnsafeBytes { Murmur2.partition(forKey: $0, partitionCount: 7) })
            }
            let reports = await collectReports(events, count: 3000)
            await producer.shutdown()
            #expect(reports.count == 3000)
            for report in reports {
                #expect(try report.result.get().partition == expected[report.id]?.partition)
            }
            var stored = 0
            for partition: Int32 in 0..<7 {
                for record in try await readPartition(broker, topic: "murmur", partition: partition) {
                    let key = Array(record.key!.readableBytesView)
                    #expect(key.withUnsafeBytes { Murmur2.partition(forKey: $0, partitionCount: 7) } == partition)
                    stored += 1
                }
            }
            #expect(stored == 3000)
        }
    }

    @Test("round-robin spreads keyless records evenly; sticky keeps runs on one partition and moves on")
    func spreading() async throws {
        try await withBroker { broker in
            try broker.createTopic("robin", partitions: 4)
            try broker.createTopic("sticky", partitions: 4)
            let robin = try KafkaProducer(configuration: producerConfiguration(broker) { $0.partitioner = .roundRobin },
                                          logger: testLogger)
            for index in 0..<1200 { try await robin.enqueue(ProducerRecord(topic: "robin", value: "\(index)")) }
            await robin.shutdown()
            for partition: Int32 in 0..<4 {
                #expect(broker.offsets(topic: "robin", partition: partition)?.highWatermark == 300)
            }

            let (sticky, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(broker) { $0.batchSize = 1024; $0.linger = .seconds(1) },
                logger: testLogger)
            for index in 0..<900 { try await sticky.enqueue(ProducerRecord(topic: "sticky", value: "value number \(index)")) }
            let reports = await collectReports(events, count: 900).sorted { $0.id < $1.id }
            await sticky.shutdown()
            let partitions = reports.compactMap { try? $0.result.get().partition }
            #expect(partitions.count == 900)
            #expect(Set(partitions).count > 1)
            let runs = zip(partitions, partitions.dropFirst()).filter { $0 != $1 }.count + 1
            #expect(900 / runs >= 10, "records should stick to a partition for about a batch at a time (\(runs) runs)")
        }
    }

    @Test("retriable errors and lost responses are retried; order is kept and nothing is written twice")
    func orderUnderRetries() async throws {
        try await withBroker { broker in
            try broker.createTopic("ordered")
            try broker.injectFault(Fault(api: .produce, topic: "ordered", action: .error(.notLeaderOrFollower), count: 3))
            try broker.injectFault(Fault(api: .produce, action: .dropResponse, count: 2))
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(broker) {
                    $0.batchSize = 2048
                    $0.client.retryBackoff = .milliseconds(5)
                    $0.client.reconnectBackoff = .milliseconds(5)
                }, logger: testLogger)
            for index in 0..<1000 { try await producer.enqueue(ProducerRecord(topic: "ordered", value: "\(index)")) }
            let reports = await collectReports(events, count: 1000)
            await producer.shutdown()
            #expect(reports.count == 1000 && reports.allSatisfy { (try? $0.result.get()) != nil })
            #expect(broker.pendingFaults.isEmpty)
            let stored = try await readPartition(broker, topic: "ordered", partition: 0, expect: 1000)
            #expect(stored.map(\.valueString) == (0..<1000).map { "\($0)" })
            // Every acknowledged offset is the record's real place in the log.
            for report in reports {
                let metadata = try report.result.get()
                #expect(stored[Int(metadata.offset)].valueString == "\(report.id.rawValue)")
            }
        }
    }

    @Test("a fatal broker error fails that batch's records with a typed error; the others are delivered")
    func fatalErrors() async throws {
        try await withBroker { broker in
            try broker.createTopic("fatal", partitions: 2)
            try broker.injectFault(Fault(api: .produce, topic: "fatal", partition: 1, action: .error(.topicAuthorizationFailed), count: 1))
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: producerConfiguration(broker),
                                                                               logger: testLogger)
            for index in 0..<20 {
                try await producer.enqueue(ProducerRecord(topic: "fatal", partition: Int32(index % 2), value: "\(index)"))
            }
            let reports = await collectReports(events, count: 20)
            await producer.shutdown()
            #expect(reports.count == 20)
            for report in reports {
                let partition = Int32(report.id.rawValue % 2)
                switch report.result {
                case .success(let metadata):
                    #expect(partition == 0 && metadata.partition == 0)
                case .failure(.broker(let code, let topic, let failedPartition)):
                    #expect(code == .topicAuthorizationFailed && topic == "fatal" && failedPartition == 1)
                case .failure(let other):
                    Issue.record("unexpected \(other)")
                }
            }
            #expect(broker.offsets(topic: "fatal", partition: 1)?.highWatermark == 0)
        }
    }

    @Test("without delivery reports, enqueued records that fail make the next flush throw, naming how many and why")
    func failuresReachFlush() async throws {
        try await withBroker { broker in
            try broker.createTopic("unheard", partitions: 2)
            try broker.injectFault(Fault(api: .produce, topic: "unheard", partition: 1, action: .error(.topicAuthorizationFailed), count: 1))
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) { $0.linger = .seconds(1) },
                                             logger: testLogger)
            for index in 0..<10 {
                try await producer.enqueue(ProducerRecord(topic: "unheard", partition: Int32(index % 2), value: "\(index)"))
            }
            var thrown: KafkaProducerError?
            do throws(KafkaProducerError) {
                try await producer.flush()
            } catch {
                thrown = error
            }
            guard case .recordsFailed(let count, let first)? = thrown else {
                Issue.record("flush did not report the 5 failed records: \(String(describing: thrown))")
                return
            }
            #expect(count == 5)
            guard case .broker(let code, let topic, let partition) = first else {
                Issue.record("unexpected first error \(first)")
                return
            }
            #expect(code == .topicAuthorizationFailed && topic == "unheard" && partition == 1)
            // Reported once: the next flush has nothing to say.
            try await producer.enqueue(ProducerRecord(topic: "unheard", partition: 0, value: "later"))
            try await producer.flush()
            await producer.shutdown()
            #expect(broker.offsets(topic: "unheard", partition: 0)?.highWatermark == 6)
            #expect(broker.offsets(topic: "unheard", partition: 1)?.highWatermark == 0)
        }
    }

    @Test("with buffer.memory full, sending waits, and fails after max.block.ms")
    func backpressure() async throws {
        try await withBroker { broker in
            try broker.createTopic("slow")
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) {
                $0.batchSize = 1024
                $0.bufferMemory = 4096
                $0.maxBlock = .milliseconds(200)
                $0.linger = .zero
            }, logger: testLogger)
            // max.block.ms also bounds the first metadata lookup: that is done first, so that below it bounds only the
            // wait for buffer memory.
            _ = try await sendUntilDelivered(producer, ProducerRecord(topic: "slow", value: "warm-up"))
            // The broker holds its next answers back far longer than max.block.ms.
            try broker.injectFault(Fault(api: .produce, action: .delay(milliseconds: 5000), count: 3))
            var accepted = 0
            var exhausted: KafkaProducerError?
            for index in 0..<200 {
                do throws(KafkaProducerError) {
                    try await producer.enqueue(ProducerRecord(topic: "slow", value: String(repeating: "x", count: 100) + "\(index)"))
                    accepted += 1
                } catch {
                    exhausted = error
                    break
                }
            }
            guard case .bufferExhausted(let waited)? = exhausted else {
                Issue.record("expected bufferExhausted, got \(String(describing: exhausted)) after \(accepted) records")
                return
            }
            #expect(waited == 200 && accepted > 0 && accepted < 200)
            await producer.shutdown()
            #expect(broker.offsets(topic: "slow", partition: 0)?.highWatermark == Int64(accepted) + 1)
        }
    }

    @Test("records too large for max.request.size fail at once; for the broker's max.message.bytes after a round trip")
    func recordTooLarge() async throws {
        try await withBroker { broker in
            try broker.createTopic("small", configs: ["max.message.bytes": "1000"])
            let producer = try KafkaProducer(configuration: producerConfiguration(broker), logger: testLogger)
            await #expect(throws: KafkaProducerError.self) {
                try await producer.enqueue(ProducerRecord(topic: "small", value: [UInt8](repeating: 1, count: 2 << 20)))
            }
            do throws(KafkaProducerError) {
                _ = try await producer.send(ProducerRecord(topic: "small", value: [UInt8](repeating: 2, count: 5000)))
                Issue.record("a 5000-byte record should not fit max.message.bytes=1000")
            } catch {
                guard case .recordTooLarge = error else { Issue.record("unexpected \(error)"); return }
            }
            await producer.shutdown()
        }
    }

    @Test("large values are sent from the caller's buffers, not copied, and arrive byte for byte; split and retried too",
          arguments: [CompressionCodec.none, .lz4])
    func largeValuesByReference(codec: CompressionCodec) async throws {
        try await withBroker { broker in
            // 30,000-byte batches at most on "limited": batches of large values are refused and split, down to one
            // record, and the 100 KB record fails as too large, with its own report.
            try broker.createTopic("large")
            try broker.createTopic("limited", configs: ["max.message.bytes": "30000"])
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(broker) { $0.compression = codec; $0.linger = .milliseconds(20) },
                logger: testLogger)
            let sizes = [10, 2047, 2048, 10_000, 0, 100_000, 3, 4096, 20_000]
            // Bytes that do not compress (xorshift), so that lz4 leaves the 100 KB value too large as well.
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            let values = sizes.map { size in
                ByteBuffer(bytes: (0..<size).map { _ in
                    state ^= state << 13
                    state ^= state >> 7
                    state ^= state << 17
                    return UInt8(truncatingIfNeeded: state)
                })
            }
            for topic in ["large", "limited"] {
                for (index, value) in values.enumerated() {
                    try await producer.enqueue(ProducerRecord(topic: topic, partition: 0, key: "k\(index)", value: value,
                                                              headers: [RecordHeader(key: "n", value: "\(index)")]))
                }
            }
            let reports = await collectReports(events, count: 2 * values.count)
            await producer.shutdown()
            #expect(reports.count == 2 * values.count)
            let stored = try await readPartition(broker, topic: "large", partition: 0, expect: values.count)
            #expect(stored.map(\.value) == values)
            #expect(stored.map(\.keyString) == values.indices.map { "k\($0)" })
            // On the limited topic every record that fits alone is written, in order; the 100 KB one is refused.
            let limited = try await readPartition(broker, topic: "limited", partition: 0, expect: values.count - 1)
            #expect(limited.map(\.value) == values.filter { $0.readableBytes != 100_000 })
        }
    }

    @Test("a batch the broker finds too large is split and every record is delivered, in order")
    func splitting() async throws {
        try await withBroker { broker in
            try broker.createTopic("split", configs: ["max.message.bytes": "1500"])
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(broker) { $0.batchSize = 16_384; $0.linger = .milliseconds(200) },
                logger: testLogger)
            for index in 0..<20 {
                try await producer.enqueue(ProducerRecord(topic: "split", value: String(repeating: "s", count: 400) + "\(index)"))
            }
            let reports = await collectReports(events, count: 20)
            await producer.shutdown()
            #expect(reports.count == 20 && reports.allSatisfy { (try? $0.result.get()) != nil })
            let stored = try await readPartition(broker, topic: "split", partition: 0, expect: 20)
            #expect(stored.map { $0.valueString?.drop(while: { $0 == "s" }) } == (0..<20).map { Substring("\($0)") })
        }
    }

    @Test("an unknown topic fails after max.block.ms when the broker does not create it")
    func unknownTopic() async throws {
        try await withBroker({ $0.autoCreateTopics = false }) { broker in
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) { $0.maxBlock = .milliseconds(300) },
                                             logger: testLogger)
            do throws(KafkaProducerError) {
                try await producer.enqueue(ProducerRecord(topic: "nowhere", value: "x"))
                Issue.record("expected unknownTopic")
            } catch {
                guard case .unknownTopic("nowhere", _) = error else { Issue.record("unexpected \(error)"); return }
            }
            await producer.shutdown()
        }
    }

    @Test("records queued while the broker is down are delivered once it is back")
    func brokerGoneAndBack() async throws {
        let directory = try makeTemporaryDirectory("producer-restart")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = MockBrokerConfiguration()
        configuration.dataDirectory = directory
        configuration.eventLoopThreads = 1
        let first = try await MockBroker.start(configuration: configuration, logger: testLogger)
        try first.createTopic("durable")
        let port = first.port
        let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: producerConfiguration(first) {
            $0.client.reconnectBackoff = .milliseconds(20)
            $0.client.reconnectBackoffMax = .milliseconds(200)
        }, logger: testLogger)
        for index in 0..<100 { try await producer.enqueue(ProducerRecord(topic: "durable", value: "\(index)")) }
        try await producer.flush()
        try await first.stop()
        // Held until the broker listens there again (its listener binds beside a socket that only holds the port),
        // so that no broker another test starts meanwhile is given it.
        let held = try #require(PortReservation(port: port))
        defer { held.release() }
        for index in 100..<200 { try await producer.enqueue(ProducerRecord(topic: "durable", value: "\(index)")) }
        configuration.port = port
        let second = try await MockBroker.start(configuration: configuration, logger: testLogger)
        held.release()
        let reports = await collectReports(events, count: 200)
        await producer.shutdown()
        #expect(reports.count == 200 && reports.allSatisfy { (try? $0.result.get()) != nil })
        let stored = try await readPartition(second, topic: "durable", partition: 0, expect: 200)
        #expect(stored.map(\.valueString) == (0..<200).map { "\($0)" })
        try await second.stop()
    }

    @Test("when the broker never comes back every record still gets an outcome: a delivery timeout")
    func brokerGoneForGood() async throws {
        let broker = try await MockBroker.start(configuration: { var c = MockBrokerConfiguration(); c.eventLoopThreads = 1; return c }(),
                                                logger: testLogger)
        try broker.createTopic("lost")
        let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: producerConfiguration(broker) {
            $0.deliveryTimeout = .seconds(2)
            $0.client.requestTimeout = .milliseconds(500)
        }, logger: testLogger)
        _ = try await sendUntilDelivered(producer, ProducerRecord(topic: "lost", value: "warm-up"))
        try await broker.stop()
        // Held, so that no broker another test starts meanwhile takes the port and answers in this one's place.
        let gone = try #require(PortReservation(port: broker.port))
        defer { gone.release() }
        var lost: Set<ProducerRecordID> = []
        for index in 0..<50 { lost.insert(try await producer.enqueue(ProducerRecord(topic: "lost", value: "\(index)"))) }
        // The awaited warm-up records are reported too; the 50 after them are the ones that must time out.
        let reports = await collectReports(events, count: 50, where: { [lost] in lost.contains($0.id) })
        #expect(reports.count == 50)
        for report in reports {
            guard case .failure(.deliveryTimedOut) = report.result else {
                Issue.record("expected a delivery timeout, got \(report.result)")
                continue
            }
        }
        await producer.shutdown()
    }

    @Test("shutdown delivers what is queued; sending afterwards is refused")
    func shutdownFlushes() async throws {
        try await withBroker { broker in
            try broker.createTopic("closing")
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) { $0.linger = .seconds(10) },
                                             logger: testLogger)
            for index in 0..<500 { try await producer.enqueue(ProducerRecord(topic: "closing", value: "\(index)")) }
            await producer.shutdown()
            #expect(broker.offsets(topic: "closing", partition: 0)?.highWatermark == 500)
            await #expect(throws: KafkaProducerError.self) { try await producer.enqueue(ProducerRecord(topic: "closing", value: "late")) }
        }
    }

    @Test("as a Service it runs until graceful shutdown, then delivers what is queued and closes")
    func service() async throws {
        try await withBroker { broker in
            try broker.createTopic("service")
            let producer = try KafkaProducer(configuration: producerConfiguration(broker) { $0.linger = .seconds(10) },
                                             logger: testLogger)
            let group = ServiceGroup(configuration: .init(services: [producer], logger: testLogger))
            let running = Task { try await group.run() }
            for index in 0..<300 { try await producer.enqueue(ProducerRecord(topic: "service", value: "\(index)")) }
            await group.triggerGracefulShutdown()
            try await running.value
            #expect(broker.offsets(topic: "service", partition: 0)?.highWatermark == 300)
            await #expect(throws: KafkaProducerError.self) { try await producer.enqueue(ProducerRecord(topic: "service", value: "late")) }
        }
    }

    @Test("an idempotent producer whose state the broker lost bumps its epoch and delivers everything once")
    func lostProducerState() async throws {
        try await withBroker { broker in
            try broker.createTopic("epochs")
            try broker.injectFault(Fault(api: .produce, topic: "epochs", action: .error(.unknownProducerId), count: 1))
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
                configuration: producerConfiguration(broker) { $0.client.retryBackoff = .milliseconds(5) }, logger: testLogger)
            for index in 0..<100 { try await producer.enqueue(ProducerRecord(topic: "epochs", value: "\(index)")) }
            let reports = await collectReports(events, count: 100)
            await producer.shutdown()
            #expect(reports.count == 100 && reports.allSatisfy { (try? $0.result.get()) != nil })
            #expect(broker.statistics.requests["InitProducerId"] == 2)
            let stored = try await readPartition(broker, topic: "epochs", partition: 0, expect: 100)
            #expect(stored.map(\.valueString) == (0..<100).map { "\($0)" })
        }
    }
}

/// The codecs of the batches stored in partition 0.
func storedCodecs(_ broker: MockBroker, topic: String) async throws -> [CompressionCodec] {
    let connection = try await broker.connect()
    let stored = try await connection.fetchAll(topic: topic)
    await connection.close()
    return stored.batches.map(\.compression)
}

@Suite("Producer close")
struct ProducerCloseTests {
    @Test("close(timeout:) gives up on a broker that does not answer: every record gets an outcome, the unsent ones producerClosed")
    func closeWithinTimeout() async throws {
        try await withBroker { broker in
            try broker.createTopic("stalled", partitions: 1)
            let (producer, events) = try KafkaProducer.makeWithDeliveryReports(configuration: producerConfiguration(broker) {
                $0.maxInFlightRequestsPerConnection = 1
                $0.batchSize = 1_000
            }, logger: testLogger)
            _ = try await producer.send(ProducerRecord(topic: "stalled", value: "before"))
            // The broker now sits on produce requests far longer than the close allows.
            try broker.injectFault(Fault(api: .produce, action: .delay(milliseconds: 20_000), count: 100))
            for index in 0..<200 {
                _ = try await producer.enqueue(ProducerRecord(topic: "stalled", value: String(repeating: "r", count: 100) + "\(index)"))
            }
            // 201: the awaited send's record is reported too.
            let reports = Task { await collectReports(events, count: 201, within: 30) }
            let before = ContinuousClock.now
            await producer.close(timeout: .milliseconds(500))
            let closing = ContinuousClock.now - before
            let outcomes = await reports.value
            #expect(outcomes.count == 201, "every record has an outcome")
            #expect(Set(outcomes.map(\.id)).count == 201, "exactly one each")
            let closed = outcomes.filter { if case .failure(.producerClosed) = $0.result { true } else { false } }
            #expect(!closed.isEmpty, "records not sent in time fail with producerClosed")
            #expect(closing < .seconds(15), "closed well before the broker's 20 s delay: \(closing)")
        }
    }
}
