import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// Consumer groups shared by this package's consumer and implementations that share no code with it: librdkafka
/// (`kcat -G`) and kafka-python in the same groups on the in-process MockBroker (so partitions and committed offsets
/// pass between them through its group coordinator), and this package's consumer in a group on Tansu, an
/// independent Kafka-protocol broker.
///
/// Every wait is a bounded poll on a condition. Records are only produced once the group has settled, so that each
/// member reads its own partitions in steady state.
@Suite("Consumer group interoperability", .serialized, .timeLimit(.minutes(3)))
struct ConsumerGroupInteropTests {}

extension ConsumerGroupInteropTests {
    @Suite("Groups shared with kcat (librdkafka) and kafka-python on the mock broker",
           .requires(.kafkaPython))
    struct SharedGroups {
        static let scenarios: [Scenario] = [
            Scenario(strategy: "range", leader: .swift),
            Scenario(strategy: "roundrobin", leader: .kafkaPython),
            Scenario(strategy: "range", leader: .kcat),
            Scenario(strategy: "cooperative-sticky", leader: .swift),
            Scenario(strategy: "cooperative-sticky", leader: .kafkaPython),
            Scenario(strategy: "cooperative-sticky", leader: .kcat),
        ]

        @Test("our consumer, kafka-python and kcat split the partitions of one group and each reads exactly its own",
              .requires(.kcat), arguments: scenarios)
        func membersSplitPartitions(scenario: Scenario) async throws {
            let kcat = try Kcat()
            let python = try await KafkaPythonScript(named: "kafka_python_group_member.py")
            let topic = "mixed", group = "mixed-\(scenario.strategy)"
            let partitions: Int32 = 6, perPartition = 10
            // Six partitions among three members: two each, whichever assignor, so each member's count is known
            // before it starts.
            let perMember = 2 * perPartition
            try await withGroupBroker { broker in
                try broker.createTopic(topic, partitions: partitions)
                try await withTemporaryDirectory("group-interop") { directory in
                    try await withStarted { started in
                        let stopFile = "\(directory)/stop"
                        var swiftMember: KafkaConsumer?
                        var pythonMember: ChildProcess?
                        var kcatMember: ChildProcess?
                        func start(_ client: GroupClient) throws {
                            switch client {
                            case .swift:
                                let consumer = started.track(try KafkaConsumer(
                                    configuration: consumerConfiguration(broker.bootstrapServers, group: group,
                                                                         assignors: [scenario.assignor]),
                                    logger: testLogger))
                                try consumer.subscribe(topics: [topic])
                                swiftMember = consumer
                            case .kafkaPython:
                                // Stays in the group, taking whatever comes, until the stop file exists.
                                pythonMember = try started.track(ChildProcess.launch(python.python3, [
                                    python.script, "member", "--bootstrap", broker.bootstrapServers, "--group", group,
                                    "--topic", topic, "--assignor", scenario.strategy, "--client-id", GroupClient.kafkaPython.clientId,
                                    "--max-records", "\(perMember)", "--until-file", stopFile,
                                ], label: "kafka-python-member"))
                            case .kcat:
                                // Leaves (committing) once it has its share.
                                kcatMember = try started.track(ChildProcess.launch(
                                    kcat.path, kcatGroupArguments(broker.bootstrapServers, group: group, strategy: scenario.strategy)
                                        + ["-c", "\(perMember)", topic],
                                    label: "kcat-member"))
                            }
                        }

                        // The coordinator keeps a leader that rejoins, so the member that starts alone assigns the
                        // partitions in every later generation.
                        try start(scenario.leader)
                        let alone = await eventually(within: 30) {
                            guard let snapshot = try? await broker.describeGroup(group) else { return false }
                            return snapshot.state == .stable && snapshot.members.map(\.clientId) == [scenario.leader.clientId]
                        }
                        try #require(alone, "\(scenario.leader) did not form the group on its own")
                        for client in GroupClient.allCases where client != scenario.leader { try start(client) }
                        let settled = try #require(try await settledGroup(broker, group: group, topic: topic, partitions: partitions),
                                                   "the group did not settle with three members; kcat said:\n\(kcatMember?.stderr ?? "")")
                        let ours = try #require(swiftMember), pythonChild = try #require(pythonMember)
                        let kcatChild = try #require(kcatMember)

                        #expect(settled.snapshot.protocolType == "consumer")
                        #expect(settled.snapshot.protocolName == scenario.strategy, "the one protocol every member offered")
                        let leader = settled.snapshot.leaderId.flatMap(settled.snapshot.member)
                        #expect(leader?.clientId == scenario.leader.clientId)
                        #expect(settled.assignments.values.allSatisfy { $0.count == 2 }, "balanced: \(settled.assignments)")
                        if scenario.strategy != "cooperative-sticky" {
                            // Range and round robin depend only on the members: the leader, whichever client it is,
                            // assigned what this package's assignor computes.
                            #expect(try expectedAssignment(settled.snapshot, assignor: scenario.assignor, topic: topic,
                                                           partitions: partitions) == settled.byMemberId)
                        }
                        func owned(by client: GroupClient) -> [Int32] { (settled.assignments[client.clientId] ?? []).sorted() }
                        let oursExpected = Set(owned(by: .swift).map { TopicPartition(topic: topic, partition: $0) })
                        #expect(await eventually { ours.assignment == oursExpected },
                                "our consumer took on what the coordinator handed it: \(ours.assignment)")

                        // Our consumer and kafka-python read their shares first; kcat, which leaves once it has
                        // its share, reads last, so that nobody's partitions move while they are read.
                        var produced = try await produceSpread(broker.bootstrapServers, topic: topic,
                                                               partitions: owned(by: .swift) + owned(by: .kafkaPython),
                                                               perPartition: perPartition)
                        let swiftRead = try await consume(ours, count: perMember, within: 30).map(Read.init)
                        // Done with them: without asking for more, only a commit says the last one was processed
                        // (a rebalance commits what the application has moved past).
                        try await ours.commit()
                        let pythonReadAll = await eventually(within: 30) { pythonProgress(pythonChild.stderr) >= perMember }
                        #expect(pythonReadAll, "kafka-python read \(pythonProgress(pythonChild.stderr)) records")
                        let now = try await broker.describeGroup(group)
                        #expect(now?.generationId == settled.snapshot.generationId && now?.state == .stable,
                                "no rebalance while the members read: \(String(describing: now))")

                        produced += try await produceSpread(broker.bootstrapServers, topic: topic, partitions: owned(by: .kcat),
                                                            perPartition: perPartition)
                        let kcatRead = try await finishedKcat(kcatChild).map(Read.init)
                        // Its partitions go to the two left; what kcat committed is where they would start.
                        let regrouped = try await settledGroup(broker, group: group, topic: topic, partitions: partitions,
                                                               members: [.swift, .kafkaPython])
                        #expect(regrouped != nil, "the group did not settle again after kcat left")

                        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
                        let pythonOutput = try await finishedPython(pythonChild)
                        await ours.close()

                        produced.sort()
                        func expected(_ client: GroupClient) -> [Read] {
                            produced.filter { owned(by: client).contains($0.partition) }
                        }
                        #expect(swiftRead.sorted() == expected(.swift), "our consumer read exactly its partitions")
                        #expect(pythonOutput.records.map(Read.init).sorted() == expected(.kafkaPython),
                                "kafka-python read exactly its partitions")
                        #expect(kcatRead.sorted() == expected(.kcat), "kcat read exactly its partitions")
                        #expect(pythonOutput.assignments.contains(owned(by: .kafkaPython)),
                                "kafka-python's own view of its assignment: \(pythonOutput.assignments)")
                        // Each member committed what it read before it left.
                        let committed = try await committedOffsets(broker, group: group, topic: topic)
                        #expect(committed == Dictionary(uniqueKeysWithValues: (0..<partitions).map { ($0, Int64(perPartition)) }))
                    }
                }
            }
        }

        @Test("""
            with cooperative-sticky and range configured our consumer follows the eager protocol, as Java does: it \
            gives up every partition before the group turns to range, so a range-only member reads nothing twice
            """)
        func mixedAssignorsRebalanceEagerly() async throws {
            let python = try await KafkaPythonScript(named: "kafka_python_group_member.py")
            let topic = "switch", group = "switch"
            let partitions: Int32 = 6
            try await withGroupBroker { broker in
                try broker.createTopic(topic, partitions: partitions)
                let produced = try await produceSpread(broker.bootstrapServers, topic: topic, partitions: partitions, perPartition: 10)
                try await withTemporaryDirectory("group-interop") { directory in
                    try await withStarted { started in
                        // Cooperative-sticky preferred, range accepted; auto-commit only when partitions are revoked.
                        let configuration = consumerConfiguration(broker.bootstrapServers, group: group,
                                                                  assignors: [CooperativeStickyAssignor(), RangeAssignor()]) {
                            $0.autoCommitInterval = .seconds(60)
                        }
                        let ours = started.track(try KafkaConsumer(configuration: configuration, logger: testLogger))
                        #expect(ours.configuration.assignors.map(\.name) == ["cooperative-sticky", "range"])
                        let log = EventLog()
                        let collecting = Task { for await event in ours.rebalanceEvents { await log.append(event) } }
                        defer { collecting.cancel() }
                        try ours.subscribe(topics: [topic])
                        // The application reads everything and goes on waiting for more, as a service does (having
                        // asked for more, it is done with what it got).
                        let received = ReadLog()
                        let reading = Task {
                            for try await record in ours.records { await received.append(Read(record)) }
                        }
                        defer { reading.cancel() }
                        #expect(await eventually(within: 30) { await received.reads.count >= produced.count })
                        #expect(await received.reads.sorted() == produced)
                        #expect(try await broker.describeGroup(group)?.protocolName == "cooperative-sticky")
                        #expect(try await committedOffsets(broker, group: group, topic: topic).isEmpty, "nothing committed yet")

                        // A member that only offers range turns the group eager.
                        let stopFile = "\(directory)/stop"
                        let pythonChild = started.track(try ChildProcess.launch(python.python3, [
                            python.script, "member", "--bootstrap", broker.bootstrapServers, "--group", group, "--topic", topic,
                            "--assignor", "range", "--client-id", GroupClient.kafkaPython.clientId, "--until-file", stopFile,
                        ], label: "kafka-python-member"))
                        let settled = try #require(try await settledGroup(broker, group: group, topic: topic, partitions: partitions,
                                                                          members: [.swift, .kafkaPython]))
                        #expect(settled.snapshot.protocolName == "range")
                        // One new record per partition: kafka-python's share of them is all it should read.
                        let markers = try await produceSpread(broker.bootstrapServers, topic: topic, partitions: partitions,
                                                              perPartition: 1, from: 10)
                        let pythonPartitions = settled.assignments[GroupClient.kafkaPython.clientId] ?? []
                        #expect(await eventually(within: 30) { pythonProgress(pythonChild.stderr) >= pythonPartitions.count })
                        _ = FileManager.default.createFile(atPath: stopFile, contents: nil)
                        let output = try await finishedPython(pythonChild)
                        await ours.close()

                        let events = await log.events
                        let firstRevocation = events.lazy.compactMap { event -> Set<TopicPartition>? in
                            if case .revoked(let partitions) = event { Set(partitions) } else { nil }
                        }.first
                        #expect(firstRevocation == Set((0..<partitions).map { TopicPartition(topic: topic, partition: $0) }),
                                "the first revocation after the eager member joined: \(events)")
                        #expect(output.records.map(Read.init).sorted() == markers.filter { pythonPartitions.contains($0.partition) },
                                "kafka-python read only the new records of its partitions")
                    }
                }
            }
        }

        @Test("each client resumes exactly where the previous one committed: ours, kafka-python, ours, kcat, ours",
              .requires(.kcat))
        func committedOffsetsAreShared() async throws {
            let kcat = try Kcat()
            let python = try await KafkaPythonScript(named: "kafka_python_group_member.py")
            let topic = "handoff", group = "handoff"
            let stages: [GroupClient] = [.swift, .kafkaPython, .swift, .kcat, .swift]
            let partitions: Int32 = 3, perStage = 12
            let perPartition = stages.count * perStage / Int(partitions)
            try await withGroupBroker { broker in
                try broker.createTopic(topic, partitions: partitions)
                let produced = try await produceSpread(broker.bootstrapServers, topic: topic, partitions: partitions,
                                                       perPartition: perPartition)
                let topicPartitions = (0..<partitions).map { TopicPartition(topic: topic, partition: $0) }
                var committed: [Int32: Int64] = [:]
                var read: [Read] = []
                for (index, client) in stages.enumerated() {
                    let stage = "stage \(index + 1) (\(client))"
                    let reads: [Read]
                    switch client {
                    case .swift:
                        reads = try await withStarted { started in
                            let consumer = started.track(try KafkaConsumer(
                                configuration: consumerConfiguration(broker.bootstrapServers, group: group) { $0.enableAutoCommit = false },
                                logger: testLogger))
                            let seen = try await consumer.committed(topicPartitions)
                                .map { key, value in (key.partition, value.offset) }
                            #expect(Dictionary(uniqueKeysWithValues: seen) == committed,
                                    "\(stage): committed() shows the previous member's commits")
                            try consumer.subscribe(topics: [topic])
                            let reads = try await consume(consumer, count: perStage, within: 30).map(Read.init)
                            try await consumer.commit()
                            return reads
                        }
                    case .kafkaPython:
                        let output: PythonMemberOutput = try await python.run("member", [
                            "--group", group, "--topic", topic, "--assignor", "range", "--max-records", "\(perStage)",
                        ], bootstrap: broker.bootstrapServers)
                        #expect(output.committedBefore.compactMapValues { $0 } == committed.stringKeys,
                                "\(stage): kafka-python's committed() shows the previous member's commits")
                        reads = output.records.map(Read.init)
                        let stored = try await committedOffsets(broker, group: group, topic: topic)
                        #expect(output.committedAfter.compactMapValues { $0 } == stored.stringKeys,
                                "\(stage): kafka-python reads back what the broker stored")
                    case .kcat:
                        // kcat stops after -c records and commits what it printed as it closes.
                        let output = try await kcat.run(kcatGroupArguments(broker.bootstrapServers, group: group, strategy: "range")
                            + ["-c", "\(perStage)", topic])
                        try #require(output.succeeded, "\(output.summary)")
                        reads = try kcatMessages(output.stdoutText).map(Read.init)
                    }
                    let before = committed
                    committed = try await committedOffsets(broker, group: group, topic: topic)
                    #expect(reads.count == perStage, "\(stage) read \(reads.count) records")
                    for partition in 0..<partitions {
                        // In the order read: contiguous from the previous commit, and committed right after.
                        let offsets = reads.filter { $0.partition == partition }.map(\.offset)
                        let start = before[partition] ?? 0
                        #expect(offsets == Array(start..<(start + Int64(offsets.count))),
                                "\(stage), partition \(partition): read \(offsets), the commit was \(start)")
                        #expect(committed[partition] ?? 0 == start + Int64(offsets.count), "\(stage), partition \(partition) committed")
                    }
                    read += reads
                }
                #expect(read.sorted() == produced, "together they read every record exactly once")
                #expect(committed == Dictionary(uniqueKeysWithValues: (0..<partitions).map { ($0, Int64(perPartition)) }))
            }
        }
    }

    @Suite("A group on Tansu, an independent Kafka-protocol broker",
           .requires(.tansu))
    struct OnTansu {
        @Test("our consumer joins a group on Tansu, reads every record, commits; the next member resumes after the commit")
        func groupOnTansu() async throws {
            let binary = try await Peers.requireTansu()
            try await withTansu(binary: binary) { tansu in
                let topic = "tansu-group", group = "tansu-group"
                let partitions: Int32 = 3, perPartition = 10
                try await tansu.createTopic(topic, partitions: partitions)
                let all = Set((0..<partitions).map { TopicPartition(topic: topic, partition: $0) })
                func committed(are offset: Int) -> [TopicPartition: Int64] {
                    Dictionary(uniqueKeysWithValues: all.map { ($0, Int64(offset)) })
                }
                let first = try await produceSpread(tansu.bootstrapServers, topic: topic, partitions: partitions,
                                                    perPartition: perPartition)
                try await withStarted { started in
                    let consumer = started.track(try KafkaConsumer(
                        configuration: tansuConsumerConfiguration(tansu, group: group) { $0.enableAutoCommit = false },
                        logger: testLogger))
                    try consumer.subscribe(topics: [topic])
                    #expect(await eventually(within: 30) { consumer.assignment == all }, "assigned \(consumer.assignment)")
                    #expect(try await consume(consumer, count: first.count, within: 30).map(Read.init).sorted() == first)
                    try await consumer.commit()
                }

                let second = try await produceSpread(tansu.bootstrapServers, topic: topic, partitions: partitions,
                                                     perPartition: perPartition, from: perPartition)
                try await withStarted { started in
                    let next = started.track(try KafkaConsumer(configuration: tansuConsumerConfiguration(tansu, group: group),
                                                               logger: testLogger))
                    #expect(try await next.committed(Array(all)).mapValues { $0.offset } == committed(are: perPartition))
                    try next.subscribe(topics: [topic])
                    #expect(try await consume(next, count: second.count, within: 30).map(Read.init).sorted() == second,
                            "resumed exactly after the commit")
                    // Closing commits (auto-commit).
                }

                try await withStarted { started in
                    let check = started.track(try KafkaConsumer(configuration: tansuConsumerConfiguration(tansu, group: group),
                                                                logger: testLogger))
                    #expect(try await check.committed(Array(all)).mapValues { $0.offset } == committed(are: 2 * perPartition))
                }
            }
        }
    }
}

// MARK: - Members and what they read

extension ConsumerGroupInteropTests {
    /// The clients a group member can be.
    enum GroupClient: String, CaseIterable, Sendable {
        case swift
        case kafkaPython = "kafka-python"
        case kcat

        /// The client id each member sends, by which the coordinator's snapshot tells them apart.
        var clientId: String { "\(rawValue)-member" }
    }

    /// The assignment strategy every member of a mixed group offers, and which member leads the group.
    struct Scenario: Sendable, CustomTestStringConvertible {
        var strategy: String
        var leader: GroupClient

        var assignor: any ConsumerPartitionAssignor {
            switch strategy {
            case "range": RangeAssignor()
            case "roundrobin": RoundRobinAssignor()
            default: CooperativeStickyAssignor()
            }
        }

        var testDescription: String { "\(strategy), \(leader.rawValue) leading" }
    }

    /// A record as a member read it (or as the producer wrote it).
    struct Read: Hashable, Comparable, CustomStringConvertible {
        var partition: Int32
        var offset: Int64
        var key: String?
        var value: String?

        init(partition: Int32, offset: Int64, key: String?, value: String?) {
            self.partition = partition
            self.offset = offset
            self.key = key
            self.value = value
        }

        init(_ record: ConsumerRecord) {
            self.init(partition: record.partition, offset: record.offset, key: record.key.map { String(buffer: $0) },
                      value: record.value.map { String(buffer: $0) })
        }

        init(_ message: KcatMessage) {
            self.init(partition: message.partition, offset: message.offset, key: message.key, value: message.payload)
        }

        init(_ record: PythonMemberOutput.Record) {
            self.init(partition: record.partition, offset: record.offset, key: record.key, value: record.value)
        }

        static func < (lhs: Read, rhs: Read) -> Bool { (lhs.partition, lhs.offset) < (rhs.partition, rhs.offset) }
        var description: String { "\(partition)@\(offset) \(key ?? "null")=\(value ?? "null")" }
    }

    /// What `Scripts/kafka_python_group_member.py member` prints.
    struct PythonMemberOutput: Decodable {
        struct Record: Decodable {
            var partition: Int32
            var offset: Int64
            var key: String?
            var value: String?
        }

        /// Committed offsets by partition (as text) before it joined and after its final commit; nil: none.
        var committedBefore: [String: Int64?]
        var committedAfter: [String: Int64?]
        /// Every distinct assignment it saw, in order.
        var assignments: [[Int32]]
        var records: [Record]
    }

    /// The coordinator's view of a group whose members split every partition of one topic.
    struct SettledGroup {
        var snapshot: GroupSnapshot
        /// Partitions by client id.
        var assignments: [String: Set<Int32>]
        /// Partitions by member id.
        var byMemberId: [String: Set<Int32>]
    }

    /// Everything a test started, stopped whatever happens: consumers closed, child processes killed by their
    /// own PID if still running.
    final class Started {
        private var consumers: [KafkaConsumer] = []
        private var children: [ChildProcess] = []

        func track(_ consumer: KafkaConsumer) -> KafkaConsumer {
            consumers.append(consumer)
            return consumer
        }

        func track(_ child: ChildProcess) -> ChildProcess {
            children.append(child)
            return child
        }

        func stopAll() async {
            for consumer in consumers { await consumer.close() }
            for child in children { await child.terminate() }
        }
    }
}

// MARK: - Helpers

extension ConsumerGroupInteropTests {
    static func withStarted<T>(_ body: (Started) async throws -> T) async throws -> T {
        let started = Started()
        do {
            let result = try await body(started)
            await started.stopAll()
            return result
        } catch {
            await started.stopAll()
            throw error
        }
    }

    /// Our consumer in `group`, with short heartbeats (so rebalances are noticed at once) and a session timeout a
    /// loaded machine cannot miss.
    static func consumerConfiguration(_ bootstrap: String, group: String, assignors: [any ConsumerPartitionAssignor]? = nil,
                                      _ change: (inout ConsumerConfiguration) -> Void = { _ in }) -> ConsumerConfiguration {
        var configuration = ConsumerConfiguration(bootstrapServers: bootstrap, groupId: group)
        configuration.client.clientId = GroupClient.swift.clientId
        configuration.client.retryBackoff = .milliseconds(20)
        configuration.client.requestTimeout = .seconds(10)
        configuration.autoOffsetReset = .earliest
        configuration.sessionTimeout = .seconds(10)
        configuration.heartbeatInterval = .milliseconds(100)
        if let assignors { configuration.assignors = assignors }
        change(&configuration)
        return configuration
    }

    /// ``consumerConfiguration(_:group:assignors:_:)`` for Tansu, with a 3 s session: Tansu holds every JoinGroup
    /// of a new generation for half the session timeout (Kafka waits `group.initial.rebalance.delay.ms`).
    static func tansuConsumerConfiguration(_ tansu: TansuBroker, group: String,
                                           _ change: (inout ConsumerConfiguration) -> Void = { _ in }) -> ConsumerConfiguration {
        consumerConfiguration(tansu.bootstrapServers, group: group) {
            $0.sessionTimeout = .seconds(3)
            change(&$0)
        }
    }

    /// `kcat -G` (librdkafka's balanced consumer) in `group` with `strategy`, JSON lines on stdout, unbuffered; the
    /// topic goes last.
    static func kcatGroupArguments(_ bootstrap: String, group: String, strategy: String) -> [String] {
        ["-b", bootstrap, "-G", group, "-J", "-u",
         "-X", "client.id=\(GroupClient.kcat.clientId)",
         "-X", "partition.assignment.strategy=\(strategy)",
         "-X", "session.timeout.ms=10000", "-X", "heartbeat.interval.ms=100",
         "-X", "auto.offset.reset=earliest"]
    }

    /// The complete JSON lines kcat printed so far.
    static func kcatMessages(_ stdout: String) throws -> [KcatMessage] {
        let complete = stdout.split(separator: "\n", omittingEmptySubsequences: true)
            .dropLast(stdout.hasSuffix("\n") ? 0 : 1)
        return try complete.map { try JSONDecoder().decode(KcatMessage.self, from: Data($0.utf8)) }
    }

    /// The last count of records a kafka-python member reported on stderr ("read N").
    static func pythonProgress(_ stderr: String) -> Int {
        stderr.split(separator: "\n").last { $0.hasPrefix("read ") }.flatMap { Int($0.dropFirst(5)) } ?? 0
    }

    /// Waits (bounded) for a kcat member to exit, requires a clean exit, and returns what it read.
    static func finishedKcat(_ child: ChildProcess, sourceLocation: SourceLocation = #_sourceLocation) async throws -> [KcatMessage] {
        let exit = try #require(await child.waitForExit(limit: .seconds(30)), "kcat did not exit; it said:\n\(child.stderr)",
                                sourceLocation: sourceLocation)
        try #require(exit.exitedNormally && exit.status == 0, "kcat ended with \(exit): \(child.stderr)",
                     sourceLocation: sourceLocation)
        return try kcatMessages(child.stdout)
    }

    /// Waits (bounded) for a kafka-python member to exit, requires a clean exit, and decodes what it printed.
    static func finishedPython(_ child: ChildProcess,
                               sourceLocation: SourceLocation = #_sourceLocation) async throws -> PythonMemberOutput {
        let exit = try #require(await child.waitForExit(limit: .seconds(75)), "kafka-python did not exit; it said:\n\(child.stderr)",
                                sourceLocation: sourceLocation)
        try #require(exit.exitedNormally && exit.status == 0, "kafka-python ended with \(exit): \(child.stderr)",
                     sourceLocation: sourceLocation)
        return try JSONDecoder().decode(PythonMemberOutput.self, from: child.stdoutData)
    }

    /// Waits (bounded) until `group` is Stable with one member of each client in `members` and they split every
    /// partition of `topic`, each partition owned once, and is still in that generation a second later. With a
    /// cooperative assignor a partition that moves is first unassigned, so a complete split also means no follow-up
    /// rebalance is due. The second look covers a peer that rejoins once more on its own just after the group first
    /// settles (seen once in seven full runs: one generation more, the same three members, ours not the leader);
    /// the tests then check that nothing rebalances while the members read.
    static func settledGroup(_ broker: MockBroker, group: String, topic: String, partitions: Int32,
                             members: [GroupClient] = GroupClient.allCases) async throws -> SettledGroup? {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            guard let settled = try await splitGroup(broker, group: group, topic: topic, partitions: partitions, members: members)
            else { return nil }
            try await Task.sleep(for: .seconds(1))
            let later = try await broker.describeGroup(group)
            if later?.generationId == settled.snapshot.generationId && later?.state == .stable { return settled }
        }
        return nil
    }

    /// The first Stable snapshot of `group` (within 45 s) in which `members` split every partition of `topic`.
    static func splitGroup(_ broker: MockBroker, group: String, topic: String, partitions: Int32,
                           members: [GroupClient]) async throws -> SettledGroup? {
        var settled: SettledGroup?
        _ = await eventually(within: 45) {
            guard let snapshot = try? await broker.describeGroup(group), snapshot.state == .stable,
                  Set(snapshot.members.map(\.clientId)) == Set(members.map(\.clientId)),
                  snapshot.members.count == members.count else { return false }
            var byMemberId: [String: Set<Int32>] = [:]
            for member in snapshot.members {
                guard member.assignment.readableBytes > 0,
                      let assignment = try? ConsumerProtocolAssignment(decodingWithVersionPrefix: member.assignment) else { return false }
                byMemberId[member.memberId] = Set(assignment.assignedTopicPartitions.filter { $0.topic == topic }.map(\.partition))
            }
            let owned = byMemberId.values.flatMap { $0 }
            guard owned.count == Int(partitions), Set(owned) == Set(0..<partitions) else { return false }
            let byClient = Dictionary(uniqueKeysWithValues: snapshot.members.map { ($0.clientId, byMemberId[$0.memberId]!) })
            settled = SettledGroup(snapshot: snapshot, assignments: byClient, byMemberId: byMemberId)
            return true
        }
        return settled
    }

    /// What `assignor` computes for the members of `snapshot` (from the subscriptions they sent), by member id.
    static func expectedAssignment(_ snapshot: GroupSnapshot, assignor: any ConsumerPartitionAssignor, topic: String,
                                   partitions: Int32) throws -> [String: Set<Int32>] {
        let members = try snapshot.members.map {
            try GroupMemberSubscription(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata)
        }
        let assigned = assignor.assign(members: members, partitionCounts: [topic: partitions])
        return Dictionary(uniqueKeysWithValues: members.map { member in
            (member.memberId, Set((assigned[member.memberId] ?? []).map(\.partition)))
        })
    }

    /// The group's committed offsets for `topic`, by partition, as the broker stores them.
    static func committedOffsets(_ broker: MockBroker, group: String, topic: String) async throws -> [Int32: Int64] {
        let offsets = try await broker.committedOffsets(group: group).filter { $0.topic == topic }
        return Dictionary(uniqueKeysWithValues: offsets.map { ($0.partition, $0.offset) })
    }

    /// Produces `perPartition` records to each partition of `topic` with this package's producer (explicit
    /// partitions, keys `p<partition>-<n>`), numbered from `start`, and returns them where the delivery reports put
    /// them, sorted by partition and offset.
    static func produceSpread(_ bootstrap: String, topic: String, partitions: Int32, perPartition: Int, from start: Int = 0,
                              sourceLocation: SourceLocation = #_sourceLocation) async throws -> [Read] {
        try await produceSpread(bootstrap, topic: topic, partitions: Array(0..<partitions), perPartition: perPartition, from: start,
                                sourceLocation: sourceLocation)
    }

    /// ``produceSpread(_:topic:partitions:perPartition:from:sourceLocation:)`` to these partitions only.
    static func produceSpread(_ bootstrap: String, topic: String, partitions: [Int32], perPartition: Int, from start: Int = 0,
                              sourceLocation: SourceLocation = #_sourceLocation) async throws -> [Read] {
        let (producer, events) = try KafkaProducer.makeWithDeliveryReports(
            configuration: producerConfiguration(bootstrapServers: bootstrap), logger: testLogger)
        var sent: [ProducerRecordID: (key: String, value: String)] = [:]
        do {
            for n in start..<(start + perPartition) {
                for partition in partitions {
                    let key = "p\(partition)-\(n)", value = "value \(n) of partition \(partition)"
                    let id = try await producer.enqueue(ProducerRecord(topic: topic, partition: partition, key: key, value: value))
                    sent[id] = (key, value)
                }
            }
        } catch {
            await producer.shutdown()
            throw error
        }
        try await producer.flush()
        let reports = await collectReports(events, count: sent.count)
        await producer.shutdown()
        try #require(reports.count == sent.count, "\(reports.count) of \(sent.count) records were reported", sourceLocation: sourceLocation)
        return try reports.map { report in
            let metadata = try report.result.get()
            let record = try #require(sent[report.id], sourceLocation: sourceLocation)
            return Read(partition: metadata.partition, offset: metadata.offset, key: record.key, value: record.value)
        }.sorted()
    }
}

extension Dictionary where Key == Int32 {
    /// The same entries keyed by the partition number as text (as JSON objects key them).
    fileprivate var stringKeys: [String: Value] { Dictionary<String, Value>(uniqueKeysWithValues: map { ("\($0.key)", $0.value) }) }
}

/// Records a background reading task received.
private actor ReadLog {
    private(set) var reads: [ConsumerGroupInteropTests.Read] = []
    func append(_ read: ConsumerGroupInteropTests.Read) { reads.append(read) }
}
