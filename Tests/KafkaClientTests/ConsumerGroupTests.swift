import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// A broker whose group settings allow the short timeouts these tests use.
func withGroupBroker<T>(_ configure: (inout MockBrokerConfiguration) -> Void = { _ in },
                        _ body: (MockBroker) async throws -> T) async throws -> T {
    try await withBroker({ configuration in
        configuration.groupMinSessionTimeout = .milliseconds(500)
        configure(&configuration)
    }, body)
}

func groupConsumerConfiguration(_ broker: MockBroker, group: String, assignor: any ConsumerPartitionAssignor = CooperativeStickyAssignor(),
                                _ change: (inout ConsumerConfiguration) -> Void = { _ in }) -> ConsumerConfiguration {
    var configuration = ConsumerConfiguration(bootstrapServers: broker.bootstrapServers, groupId: group)
    configuration.autoOffsetReset = .earliest
    configuration.heartbeatInterval = .milliseconds(100)
    configuration.sessionTimeout = .seconds(6) // generous: a loaded machine can delay heartbeats
    configuration.client.retryBackoff = .milliseconds(20)
    configuration.client.requestTimeout = .seconds(10)
    configuration.assignors = [assignor]
    change(&configuration)
    return configuration
}

/// Polls `condition` every 50 ms for at most `seconds`; true once it held. The bound is for liveness, not speed:
/// the whole suite starts at once on 2 cores, and in its first seconds a group join that takes a second alone has
/// taken over 15 (a fresh-clone CI run).
func eventually(within seconds: Double = 60, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

/// Reads `count` records from `consumer` (bounded by `seconds`); fewer if time runs out. With `inBatches`, through
/// ``KafkaConsumer/batches`` (whole fetched partitions, so possibly more than `count`).
func consume(_ consumer: KafkaConsumer, count: Int, within seconds: Double = 20, inBatches: Bool = false) async throws -> [ConsumerRecord] {
    try await withThrowingTaskGroup(of: [ConsumerRecord]?.self) { group in
        group.addTask {
            var records: [ConsumerRecord] = []
            guard count > 0 else { return records }
            if inBatches {
                for try await batch in consumer.batches {
                    records += batch
                    if records.count >= count { break }
                }
                return records
            }
            for try await record in consumer.records {
                records.append(record)
                if records.count >= count { break }
            }
            return records
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(seconds))
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first ?? []
    }
}

func produceNumbered(_ broker: MockBroker, topic: String, count: Int, from start: Int = 0, partitions: Int32? = nil,
                     timestamp: ((Int) -> Int64)? = nil) async throws {
    var configuration = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
    configuration.partitioner = .roundRobin
    let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
    for index in start..<(start + count) {
        try await producer.enqueue(ProducerRecord(topic: topic, partition: partitions.map { Int32(index) % $0 }, value: "\(index)",
                                                  timestamp: timestamp?(index)))
    }
    await producer.shutdown()
}

/// How many `api` requests the broker took while the test waited `duration`, and how long that really was.
func requests(_ api: String, to broker: MockBroker, during duration: Duration) async throws -> (count: Int64, elapsed: Duration) {
    let before = broker.statistics.requests[api] ?? 0
    let start = ContinuousClock.now
    try await Task.sleep(for: duration)
    return ((broker.statistics.requests[api] ?? 0) - before, ContinuousClock.now - start)
}

/// Rebalance events as they arrive.
actor EventLog {
    private(set) var events: [RebalanceEvent] = []
    func append(_ event: RebalanceEvent) { events.append(event) }
}

/// Whether `consumers` together own every partition of `topic` exactly once.
func splitExactly(_ consumers: [KafkaConsumer], topic: String, partitions: Int32) -> Bool {
    let assignments = consumers.map(\.assignment)
    let all = assignments.flatMap { $0 }
    return all.count == Int(partitions) && Set(all) == Set((0..<partitions).map { TopicPartition(topic: topic, partition: $0) })
}

@Suite("Consumer groups against the mock broker")
struct ConsumerGroupTests {
    static let assignors: [any ConsumerPartitionAssignor] = [RangeAssignor(), RoundRobinAssignor(), CooperativeStickyAssignor()]

    @Test("two to five members split the partitions with each assignor", arguments: [2, 3, 5])
    func membersSplitPartitions(members: Int) async throws {
        for assignor in Self.assignors {
            try await withGroupBroker { broker in
                try broker.createTopic("split", partitions: 10)
                let consumers = try (0..<members).map { _ in
                    try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "g-\(assignor.name)", assignor: assignor),
                                      logger: testLogger)
                }
                for consumer in consumers { try consumer.subscribe(topics: ["split"]) }
                // Settled: every partition owned exactly once, and by every member in balanced shares.
                let settled = await eventually {
                    let counts = consumers.map(\.assignment.count)
                    return splitExactly(consumers, topic: "split", partitions: 10) && counts.max()! - counts.min()! <= 1
                }
                #expect(settled, "\(assignor.name) with \(members) members: \(consumers.map(\.assignment.count))")
                for consumer in consumers { await consumer.close() }
            }
        }
    }

    @Test("a member that leaves, and one that stops heartbeating, have their partitions reassigned")
    func leavingAndExpiredMembers() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("churn", partitions: 6)
            let stays = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "churn"), logger: testLogger)
            let leaves = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "churn"), logger: testLogger)
            try stays.subscribe(topics: ["churn"])
            try leaves.subscribe(topics: ["churn"])
            #expect(await eventually { splitExactly([stays, leaves], topic: "churn", partitions: 6) && leaves.assignment.count == 3 })
            await leaves.close()
            #expect(await eventually { stays.assignment.count == 6 })

            // A member that joins by hand and then never heartbeats is expired after its session timeout (6 s: it
            // must still be there when the group is described right after, on a loaded machine).
            let connection = try await broker.connect()
            var join = JoinGroupRequest(groupId: "churn", sessionTimeoutMs: 6000, rebalanceTimeoutMs: 5000, memberId: "",
                                        protocolType: "consumer", protocols: [
                                            .init(name: "cooperative-sticky",
                                                  metadata: try ConsumerProtocolSubscription(topics: ["churn"]).encodedWithVersionPrefix(version: 1)),
                                        ])
            let first = try await connection.send(join)
            join.memberId = first.memberId
            let joined = try await connection.send(join)
            #expect(joined.errorCode == 0)
            let snapshot = try await broker.describeGroup("churn")
            #expect(snapshot?.members.count == 2)
            // Without heartbeats or a SyncGroup it drops out, and `stays` ends up with everything again.
            #expect(await eventually { (try? await broker.describeGroup("churn"))??.members.count == 1 && stays.assignment.count == 6 })
            await connection.close()
            await stays.close()
        }
    }

    @Test("cooperative rebalancing moves only what must move; the rest is never revoked")
    func cooperativeKeepsPartitions() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("coop", partitions: 6)
            let first = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "coop"), logger: testLogger)
            let log = EventLog()
            let collecting = Task { for await event in first.rebalanceEvents { await log.append(event) } }
            try first.subscribe(topics: ["coop"])
            #expect(await eventually { first.assignment.count == 6 })
            let before = first.assignment
            let second = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "coop"), logger: testLogger)
            try second.subscribe(topics: ["coop"])
            // The stream announces a revocation just after the assignment shrinks, so wait for both.
            #expect(await eventually {
                let events = await log.events
                return splitExactly([first, second], topic: "coop", partitions: 6) && first.assignment.count == 3
                    && events.contains { if case .revoked = $0 { true } else { false } }
            })
            let kept = first.assignment
            // What happened up to the split (closing revokes the rest, as it should).
            let seen = await log.events
            await second.close()
            await first.close()
            collecting.cancel()
            let revoked: Set<TopicPartition> = Set(seen.flatMap { event -> [TopicPartition] in
                if case .revoked(let partitions) = event { return partitions }
                return []
            })
            #expect(revoked == before.subtracting(kept), "only the partitions that moved were revoked: \(seen)")
            #expect(revoked.isDisjoint(with: kept))
            #expect(!seen.contains { if case .lost = $0 { true } else { false } })
        }
    }

    @Test("eager assignors revoke everything before a rebalance")
    func eagerRevokesAll() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("eager", partitions: 4)
            let first = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "eager", assignor: RangeAssignor()),
                                          logger: testLogger)
            let events = Task { () -> [RebalanceEvent] in
                var seen: [RebalanceEvent] = []
                for await event in first.rebalanceEvents { seen.append(event) }
                return seen
            }
            try first.subscribe(topics: ["eager"])
            #expect(await eventually { first.assignment.count == 4 })
            let second = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "eager", assignor: RangeAssignor()),
                                           logger: testLogger)
            try second.subscribe(topics: ["eager"])
            #expect(await eventually { splitExactly([first, second], topic: "eager", partitions: 4) })
            await second.close()
            await first.close()
            let seen = await events.value
            let revokedAll = seen.contains { if case .revoked(let partitions) = $0 { partitions.count == 4 } else { false } }
            #expect(revokedAll, "\(seen)")
        }
    }

    @Test("a static member that restarts gets its partitions back without a rebalance")
    func staticMembership() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("static", partitions: 4)
            // The restarted member must be back within the session timeout: on a loaded CI machine, with the whole
            // suite running at once, the 6 s the other group tests use has not always been enough for a new
            // consumer's first join.
            let configure: (inout ConsumerConfiguration) -> Void = {
                $0.groupInstanceId = "instance-a"
                $0.sessionTimeout = .seconds(45)
            }
            let other = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "static") {
                $0.groupInstanceId = "instance-b"
                $0.sessionTimeout = .seconds(45)
            }, logger: testLogger)
            var member = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "static", configure), logger: testLogger)
            try other.subscribe(topics: ["static"])
            try member.subscribe(topics: ["static"])
            #expect(await eventually { splitExactly([other, member], topic: "static", partitions: 4) && member.assignment.count == 2 })
            let assignment = member.assignment
            let generation = try #require(try await broker.describeGroup("static")?.generationId)
            await member.close() // a static member does not leave the group on close
            member = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "static", configure), logger: testLogger)
            try member.subscribe(topics: ["static"])
            #expect(await eventually { member.assignment == assignment })
            #expect(try await broker.describeGroup("static")?.generationId == generation)
            #expect(other.assignment.count == 2)
            await member.close()
            await other.close()
        }
    }

    @Test("close during a JoinGroup the coordinator holds returns at once and leaves the group")
    func closeDuringHeldJoin() async throws {
        // The coordinator holds a new group's first JoinGroup for group.initial.rebalance.delay.ms.
        try await withGroupBroker({ $0.groupInitialRebalanceDelay = .seconds(60) }) { broker in
            try broker.createTopic("held", partitions: 2)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "held"), logger: testLogger)
            try consumer.subscribe(topics: ["held"])
            #expect(await eventually { (try? await broker.describeGroup("held"))??.state == .preparingRebalance })
            let started = ContinuousClock.now
            await consumer.close()
            let took = ContinuousClock.now - started
            // Waiting for the held JoinGroup would take the 60 s hold, or close's own 30 s; at once is well under
            // both, even with the whole suite running on 2 cores (where it has taken 5.7 s).
            #expect(took < .seconds(15), "close waited \(took) for the held JoinGroup")
            // Its LeaveGroup took the member out of the join: nobody is left in the group.
            #expect(await eventually { (try? await broker.describeGroup("held"))??.members.isEmpty ?? true })
        }
    }

    @Test("commit, close, and a new member resumes exactly after the commit")
    func resumeAfterCommit() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("resume")
            try await produceNumbered(broker, topic: "resume", count: 100)
            let first = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "resume") { $0.enableAutoCommit = false },
                                          logger: testLogger)
            try first.subscribe(topics: ["resume"])
            let firstHalf = try await consume(first, count: 40)
            #expect(firstHalf.map { String(buffer: $0.value!) } == (0..<40).map(String.init))
            try await first.commit()
            await first.close()
            #expect(try await broker.committedOffsets(group: "resume").first?.offset == 40)

            // Auto-commit on, but its timer far off: only close commits, so the check below cannot race a timed commit.
            let second = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "resume") {
                $0.autoCommitInterval = .seconds(3600)
            }, logger: testLogger)
            try second.subscribe(topics: ["resume"])
            let rest = try await consume(second, count: 60)
            #expect(rest.map(\.offset) == Array(40..<100))
            let committed = try await second.committed([TopicPartition(topic: "resume", partition: 0)])
            #expect(committed.values.first?.offset == 40)
            await second.close() // auto-commit commits the rest on close
            #expect(try await broker.committedOffsets(group: "resume").first?.offset == 100)
        }
    }

    @Test("committed offsets survive a broker restart")
    func offsetsSurviveRestart() async throws {
        let directory = try makeTemporaryDirectory("consumer-offsets")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await withGroupBroker({ $0.dataDirectory = directory }) { broker in
            try broker.createTopic("durable")
            try await produceNumbered(broker, topic: "durable", count: 30)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "durable") { $0.enableAutoCommit = false },
                                             logger: testLogger)
            try consumer.subscribe(topics: ["durable"])
            _ = try await consume(consumer, count: 12)
            try await consumer.commit()
            await consumer.close()
        }
        try await withGroupBroker({ $0.dataDirectory = directory }) { broker in
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "durable"), logger: testLogger)
            try consumer.subscribe(topics: ["durable"])
            let records = try await consume(consumer, count: 18)
            #expect(records.first?.offset == 12 && records.count == 18)
            await consumer.close()
        }
    }

    @Test("seek, seek to beginning and end, offsetsForTimes, pause and resume")
    func positioning() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("positions", partitions: 2)
            try await produceNumbered(broker, topic: "positions", count: 100, partitions: 2, timestamp: { 1_000_000 + Int64($0) * 10 })
            var configuration = ConsumerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.autoOffsetReset = .earliest
            let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger)
            let p0 = TopicPartition(topic: "positions", partition: 0)
            let p1 = TopicPartition(topic: "positions", partition: 1)
            try consumer.assign([p0, p1])
            #expect(try await consume(consumer, count: 100).count == 100)

            try consumer.seek(p0, to: 45)
            try consumer.pause([p1])
            let after = try await consume(consumer, count: 5)
            #expect(after.map(\.offset) == [45, 46, 47, 48, 49] && after.allSatisfy { $0.partition == 0 })
            try consumer.resume([p1])
            try consumer.seekToBeginning([p1])
            try consumer.pause([p0])
            let beginning = try await consume(consumer, count: 3)
            #expect(beginning.map(\.offset) == [0, 1, 2] && beginning.allSatisfy { $0.partition == 1 })
            try consumer.seekToEnd([p1])
            #expect(await eventually { consumer.position(p1) == 50 })

            // Record n is at offset n/2 of partition n%2, with timestamp 1_000_000 + 10n.
            let times = try await consumer.offsetsForTimes([p0: 1_000_000 + 10 * 20 + 1, p1: 1_000_000 + 10 * 999])
            #expect(times[p0]?.offset == 11 && times[p0]?.timestamp == 1_000_000 + 10 * 22)
            #expect(times[p1] == nil, "no record is that late")
            await consumer.close()
        }
    }

    @Test("a slow application keeps the consumer's memory bounded")
    func boundedPrefetch() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("flood")
            var producer = ProducerConfiguration(bootstrapServers: broker.bootstrapServers)
            producer.batchSize = 64 * 1024
            let flood = try KafkaProducer(configuration: producer, logger: testLogger)
            let value = [UInt8](repeating: 7, count: 1000)
            for _ in 0..<8000 { try await flood.enqueue(ProducerRecord(topic: "flood", value: value)) }
            await flood.shutdown()

            var configuration = ConsumerConfiguration(bootstrapServers: broker.bootstrapServers)
            configuration.autoOffsetReset = .earliest
            configuration.maxPartitionFetchBytes = 256 * 1024
            let consumer = try KafkaConsumer(configuration: configuration, logger: testLogger)
            try consumer.assign([TopicPartition(topic: "flood", partition: 0)])
            // Read one record, then stall while the fetcher could read ahead 8 MB: once it has read ahead (however
            // long a loaded machine takes to get there), what it holds stays bounded while the application stalls.
            _ = try await consume(consumer, count: 1)
            #expect(await eventually { consumer.bufferedBytes > 0 })
            var largest = 0
            for _ in 0..<20 {
                try await Task.sleep(for: .milliseconds(25))
                largest = max(largest, consumer.bufferedBytes)
            }
            // About two fetches of max.partition.fetch.bytes (each may end in a batch that is sent whole).
            #expect(largest > 0 && largest <= 3 * 256 * 1024 + 128 * 1024, "\(largest) bytes buffered")
            #expect(try await consume(consumer, count: 7999).count == 7999)
            await consumer.close()
        }
    }

    @Test("auto.offset.reset=none reports a typed error for a partition with no committed offset")
    func noOffset() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("strict")
            try await produceNumbered(broker, topic: "strict", count: 3)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "strict") { $0.autoOffsetReset = .none },
                                             logger: testLogger)
            try consumer.subscribe(topics: ["strict"])
            do {
                _ = try await consume(consumer, count: 1)
                Issue.record("expected noOffset")
            } catch let error as KafkaConsumerError {
                guard case .noOffset(let partition) = error else { Issue.record("unexpected \(error)"); return }
                #expect(partition == TopicPartition(topic: "strict", partition: 0))
            }
            try consumer.seek(TopicPartition(topic: "strict", partition: 0), to: 1)
            #expect(try await consume(consumer, count: 2).map(\.offset) == [1, 2])
            await consumer.close()
        }
    }

    @Test("NOT_COORDINATOR and COORDINATOR_NOT_AVAILABLE make the member find the coordinator again and carry on")
    func coordinatorMoves() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("moves", partitions: 2)
            try await produceNumbered(broker, topic: "moves", count: 20, partitions: 2)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "moves") { $0.enableAutoCommit = false },
                                             logger: testLogger)
            try consumer.subscribe(topics: ["moves"])
            #expect(try await consume(consumer, count: 20).count == 20)
            let before = try #require(try await broker.describeGroup("moves"))

            try broker.injectFault(Fault(api: .heartbeat, group: "moves", action: .error(.notCoordinator), count: 2))
            try broker.injectFault(Fault(api: .findCoordinator, group: "moves", action: .error(.coordinatorNotAvailable), count: 2))
            try broker.injectFault(Fault(api: .offsetCommit, group: "moves", action: .error(.notCoordinator), count: 1))
            try await consumer.commit() // retried once the coordinator is found again
            #expect(await eventually { broker.pendingFaults.isEmpty }, "heartbeats met their faults too")

            let committed = try await broker.committedOffsets(group: "moves")
            #expect(committed.map(\.offset).sorted() == [10, 10])
            // The membership survived: same generation, same member.
            let after = try #require(try await broker.describeGroup("moves"))
            #expect(after.generationId == before.generationId && after.members.map(\.memberId) == before.members.map(\.memberId))
            await consumer.close()
        }
    }

    @Test("the membership loop heartbeats on its schedule, not in a tight loop")
    func heartbeatRate() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("rate")
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "rate") {
                $0.heartbeatInterval = .milliseconds(200)
            }, logger: testLogger)
            try consumer.subscribe(topics: ["rate"])
            #expect(await eventually { consumer.assignment.count == 1 })
            let (sent, elapsed) = try await requests("Heartbeat", to: broker, during: .seconds(2))
            // At most one per interval (a loaded machine may send fewer); a loop that does not sleep sends thousands.
            let intervals = Int64(elapsed / .milliseconds(200))
            #expect(sent <= intervals + 3, "\(sent) heartbeats in \(intervals) intervals of 200 ms")
            await consumer.close()
        }
    }

    @Test("an application waiting for records on an idle topic stays in the group past max.poll.interval.ms")
    func idleIsAlive() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("idle")
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "idle") {
                $0.maxPollInterval = .seconds(1)
            }, logger: testLogger)
            try consumer.subscribe(topics: ["idle"])
            let log = EventLog()
            let collecting = Task { for await event in consumer.rebalanceEvents { await log.append(event) } }
            defer { collecting.cancel() }
            // The application waits in `records` the whole time, events included: once it stops waiting, a pause of
            // the test longer than max.poll.interval.ms would be an idle application, rightly made to leave.
            let received = NIOLockedValueBox(0)
            let reading = Task { for try await _ in consumer.records { received.withLockedValue { $0 += 1 } } }
            defer { reading.cancel() }
            #expect(await eventually { consumer.assignment.count == 1 })
            try await Task.sleep(for: .seconds(3)) // three max.poll.intervals of waiting
            try await produceNumbered(broker, topic: "idle", count: 1)
            #expect(await eventually { received.withLockedValue { $0 } == 1 }, "the record produced later still arrives")
            let events = await log.events
            #expect(!events.contains { if case .revoked = $0 { true } else { false } }, "never left the group: \(events)")
            reading.cancel()
            await consumer.close()
        }
    }

    @Test("auto-commit commits only what the application has moved past; close commits everything handed out")
    func autoCommitIsAtLeastOnce() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("processed")
            try await produceNumbered(broker, topic: "processed", count: 20)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "processed") {
                $0.autoCommitInterval = .milliseconds(100)
            }, logger: testLogger)
            try consumer.subscribe(topics: ["processed"])
            // Five records handed out; the application is still busy with the fifth.
            #expect(try await consume(consumer, count: 5).map(\.offset) == [0, 1, 2, 3, 4])
            #expect(await eventually { (try? await broker.committedOffsets(group: "processed"))?.first?.offset == 4 })
            try await Task.sleep(for: .milliseconds(500)) // several more auto-commits
            #expect(try await broker.committedOffsets(group: "processed").first?.offset == 4, "the fifth is not committed yet")
            await consumer.close()
            #expect(try await broker.committedOffsets(group: "processed").first?.offset == 5)
        }
    }

    @Test("a seek while records of the partition are being handed out takes effect at the next record")
    func seekDuringIteration() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("reseek")
            try await produceNumbered(broker, topic: "reseek", count: 30)
            let partition = TopicPartition(topic: "reseek", partition: 0)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "reseek"), logger: testLogger)
            try consumer.subscribe(topics: ["reseek"])
            var offsets: [Int64] = []
            var iterator = consumer.records.makeAsyncIterator()
            while offsets.count < 10, let record = try await iterator.next() { offsets.append(record.offset) }
            try consumer.seek(partition, to: 3)
            if let record = try await iterator.next() { offsets.append(record.offset) }
            #expect(offsets == Array(0..<10) + [3])
            #expect(consumer.position(partition) == 4)
            await consumer.close()
        }
    }

    @Test("seekToBeginning on assignment wins over the committed offset being looked up")
    func seekBeatsCommittedLookup() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("rewind")
            try await produceNumbered(broker, topic: "rewind", count: 60)
            let partition = TopicPartition(topic: "rewind", partition: 0)
            let first = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "rewind") { $0.enableAutoCommit = false },
                                          logger: testLogger)
            try first.assign([partition])
            try await first.commit(offsets: [partition: OffsetAndMetadata(offset: 50)])
            await first.close()

            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "rewind"), logger: testLogger)
            let rewinding = Task {
                for await event in consumer.rebalanceEvents {
                    if case .assigned(let partitions) = event, !partitions.isEmpty { try? consumer.seekToBeginning(partitions) }
                }
            }
            defer { rewinding.cancel() }
            try consumer.subscribe(topics: ["rewind"])
            #expect(try await consume(consumer, count: 1).first?.offset == 0)
            await consumer.close()
        }
    }
}

@Suite("Consumer group membership with a busy cooperative pool")
struct BusyPoolTests {
    /// Blocks every thread of the test process's cooperative pool for 2 s, which stalls every other test running
    /// beside it; so it runs only when asked for (`KAFKA_TEST_BLOCK_POOL=1 swift test --filter heartbeatsWithABusyPool`).
    /// `membershipRunsOnTheEventLoop` (in the unit tests) checks the mechanism in every run.
    @Test("heartbeats go on while the application's work holds every thread of Swift's cooperative pool",
          .enabled(if: ProcessInfo.processInfo.environment["KAFKA_TEST_BLOCK_POOL"] != nil,
                   "blocks the whole test process's pool for 2 s: set KAFKA_TEST_BLOCK_POOL=1 to run it"))
    func heartbeatsWithABusyPool() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("busy", partitions: 2)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "busy") {
                $0.sessionTimeout = .milliseconds(600)
            }, logger: testLogger)
            try consumer.subscribe(topics: ["busy"])
            #expect(await eventually { consumer.assignment.count == 2 })
            let before = try #require(try await broker.describeGroup("busy"))
            // As many tasks as the pool has threads, each holding its thread for more than three session timeouts
            // (blocked, as in synchronous work, so that the CPU stays free for everything else): a membership that
            // needed a pool thread would miss its heartbeats and be expired.
            await withTaskGroup(of: Void.self) { tasks in
                for _ in 0..<ProcessInfo.processInfo.activeProcessorCount {
                    tasks.addTask { usleep(2_000_000) }
                }
            }
            let after = try #require(try await broker.describeGroup("busy"))
            #expect(after.state == .stable && after.generationId == before.generationId, "\(after)")
            #expect(consumer.assignment.count == 2)
            await consumer.close()
        }
    }
}
