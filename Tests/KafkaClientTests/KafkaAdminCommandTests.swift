import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import Testing

/// Runs the built `kafka-admin` with `arguments` (bounded by 60 s, a safety limit).
func kafkaAdmin(_ arguments: [String]) async throws -> ProcessOutput {
    try await runProcess(try BuiltExecutable.locate("kafka-admin", override: "KAFKA_ADMIN_BINARY"), arguments, limit: .seconds(60))
}

/// Runs `kafka-admin --bootstrap-server <broker> arguments --json`, requires success and parses stdout as one JSON
/// document.
func kafkaAdminJSON(_ broker: MockBroker, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
    try await kafkaAdminJSON(broker.bootstrapServers, arguments, sourceLocation: sourceLocation)
}

/// ``kafkaAdminJSON(_:_:sourceLocation:)`` for any bootstrap servers (a cluster's).
func kafkaAdminJSON(_ bootstrapServers: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String: Any] {
    let output = try await kafkaAdmin(["--bootstrap-server", bootstrapServers] + arguments + ["--json"])
    try #require(output.succeeded, "\(output.summary)", sourceLocation: sourceLocation)
    let parsed = try JSONSerialization.jsonObject(with: output.stdout)
    return try #require(parsed as? [String: Any], "not a JSON object: \(output.stdoutText)", sourceLocation: sourceLocation)
}

/// Runs `kafka-admin --bootstrap-server <broker> arguments`, requires success and returns stdout's lines.
func kafkaAdminLines(_ broker: MockBroker, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> [String] {
    let output = try await kafkaAdmin(["--bootstrap-server", broker.bootstrapServers] + arguments)
    try #require(output.succeeded, "\(output.summary)", sourceLocation: sourceLocation)
    return output.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

/// A table row's cells (split on runs of spaces).
func cells(_ line: String) -> [String] {
    line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
}

@Suite("kafka-admin executable against MockBroker", .timeLimit(.minutes(3)))
struct KafkaAdminCommandTests {
    @Test("topics: create, list, describe (table and JSON), create-partitions, alter-config, delete; errors exit 1 with a message")
    func topics() async throws {
        try await withBroker { broker in
            var lines = try await kafkaAdminLines(broker, ["topics", "create", "orders", "--partitions", "3", "--config", "retention.ms=3600000",
                                                          "--config", "cleanup.policy=compact"])
            #expect(lines.first?.hasPrefix("Created topic orders with 3 partition(s), replication factor 1 (id ") == true)
            let created = try await kafkaAdminJSON(broker, ["topics", "create", "audit", "--partitions", "1", "--replication-factor", "1"])
            #expect(created["name"] as? String == "audit")
            #expect(created["partitions"] as? Int == 1)
            #expect(created["replicationFactor"] as? Int == 1)

            // The shared options may also follow the subcommand.
            let listed = try await kafkaAdmin(["topics", "list", "--bootstrap-server", broker.bootstrapServers])
            try #require(listed.succeeded, "\(listed.summary)")
            let rows = listed.stdoutText.split(separator: "\n").map(String.init)
            #expect(rows.map { Array(cells($0).prefix(3)) } == [["TOPIC", "PARTITIONS", "REPLICATION-FACTOR"], ["audit", "1", "1"], ["orders", "3", "1"]])
            // Aligned: every row's second column starts where the header's does.
            #expect(Set(rows.map { $0.range(of: " [^ ]", options: .regularExpression)?.lowerBound.utf16Offset(in: $0) }).count == 1)
            let listJSON = try await kafkaAdminJSON(broker, ["topics", "list"])
            #expect((listJSON["topics"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["audit", "orders"])

            lines = try await kafkaAdminLines(broker, ["topics", "describe", "orders"])
            #expect(lines.first?.hasPrefix("Topic: orders  ID: ") == true)
            #expect(lines.first?.hasSuffix("Partitions: 3  Replication factor: 1") == true)
            #expect(lines.map(cells).contains(["PARTITION", "LEADER", "REPLICAS", "ISR", "OFFLINE"]))
            #expect(lines.map(cells).contains(["2", "1", "1", "1", "-"]))
            #expect(lines.map(cells).contains(["retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG"]))
            #expect(lines.map(cells).contains(["segment.bytes", "1073741824", "DEFAULT_CONFIG"]))

            var described = try await kafkaAdminJSON(broker, ["topics", "describe", "orders"])
            let partitions = try #require(described["partitions"] as? [[String: Any]])
            #expect(partitions.map { $0["partition"] as? Int } == [0, 1, 2])
            #expect(partitions.allSatisfy { $0["leader"] as? Int == 1 && $0["replicas"] as? [Int] == [1] && $0["isr"] as? [Int] == [1] })
            let configs = try #require(described["configs"] as? [[String: Any]])
            #expect(configs.first { $0["name"] as? String == "cleanup.policy" }?["value"] as? String == "compact")

            let grown = try await kafkaAdminJSON(broker, ["topics", "create-partitions", "orders", "--partitions", "5"])
            #expect(grown["partitions"] as? Int == 5)
            let altered = try await kafkaAdminJSON(broker, ["topics", "alter-config", "orders", "--config", "retention.ms=1000"])
            #expect((altered["configs"] as? [[String: Any]])?.first?["value"] as? String == "1000")
            described = try await kafkaAdminJSON(broker, ["topics", "describe", "orders"])
            #expect((described["partitions"] as? [Any])?.count == 5)
            #expect((described["configs"] as? [[String: Any]])?.first { $0["name"] as? String == "retention.ms" }?["value"] as? String == "1000")

            lines = try await kafkaAdminLines(broker, ["topics", "delete", "orders"])
            #expect(lines.first == "Deleted topic orders")
            #expect(broker.topicNames == ["audit"])

            let missing = try await kafkaAdmin(["--bootstrap-server", broker.bootstrapServers, "topics", "describe", "orders"])
            #expect(missing.status == 1)
            #expect(missing.stdout.isEmpty)
            #expect(missing.stderr.hasPrefix("kafka-admin: error: describe topic orders: UNKNOWN_TOPIC_OR_PARTITION (3)"))
            let exists = try await kafkaAdmin(["--bootstrap-server", broker.bootstrapServers, "--json", "topics", "create", "audit", "--partitions", "1"])
            #expect(exists.status == 1)
            #expect(exists.stderr.contains("TOPIC_ALREADY_EXISTS"))
            let badConfig = try await kafkaAdmin(["--bootstrap-server", broker.bootstrapServers, "topics", "alter-config", "audit", "--config", "retention.ms=x"])
            #expect(badConfig.status == 1)
            #expect(badConfig.stderr.contains("INVALID_CONFIG"))
            let usage = try await kafkaAdmin(["--bootstrap-server", broker.bootstrapServers, "topics", "create", "x", "--partitions", "0"])
            #expect(usage.status != 0 && usage.stderr.contains("--partitions must be at least 1"))
        }
    }

    @Test("groups: list, describe, lag, reset-offsets to earliest, latest and a datetime, delete; cluster describe")
    func groupsAndCluster() async throws {
        try await withBroker { broker in
            try broker.createTopic("work", partitions: 2)
            // Record i: partition i % 2, timestamp 2024-01-01T00:00:00Z + i seconds.
            let base: Int64 = 1_704_067_200_000
            try await produceNumbered(broker, topic: "work", count: 10, partitions: 2) { base + Int64($0) * 1000 }
            try await withAdmin(broker) { admin in
                try await admin.alterGroupOffsets("billing", [TopicPartition(topic: "work", partition: 0): OffsetAndMetadata(offset: 2),
                                                              TopicPartition(topic: "work", partition: 1): OffsetAndMetadata(offset: 5)])
            }
            var lines = try await kafkaAdminLines(broker, ["groups", "list"])
            #expect(Array(lines.map(cells).prefix(2)) == [["GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR"], ["billing", "Empty", "-", "1"]])
            let list = try await kafkaAdminJSON(broker, ["groups", "list"])
            #expect((list["groups"] as? [[String: Any]])?.map { $0["group"] as? String } == ["billing"])

            let describe = try await kafkaAdminJSON(broker, ["groups", "describe", "billing"])
            #expect(describe["state"] as? String == "Empty")
            #expect((describe["members"] as? [Any])?.isEmpty == true)

            lines = try await kafkaAdminLines(broker, ["groups", "lag", "billing"])
            #expect(Array(lines.map(cells).prefix(3)) == [["TOPIC", "PARTITION", "COMMITTED", "END-OFFSET", "LAG", "MEMBER-ID", "CLIENT-ID"],
                                                   ["work", "0", "2", "5", "3", "-", "-"], ["work", "1", "5", "5", "0", "-", "-"]])
            #expect(lines.contains("Total lag: 3"))
            var lag = try await kafkaAdminJSON(broker, ["groups", "lag", "billing"])
            #expect(lag["totalLag"] as? Int == 3)
            let rows = try #require(lag["partitions"] as? [[String: Any]])
            #expect(rows.map { [$0["topic"] as? String, ($0["partition"] as? Int).map(String.init), ($0["committed"] as? Int).map(String.init),
                                ($0["endOffset"] as? Int).map(String.init), ($0["lag"] as? Int).map(String.init)] }
                    == [["work", "0", "2", "5", "3"], ["work", "1", "5", "5", "0"]])

            var reset = try await kafkaAdminJSON(broker, ["groups", "reset-offsets", "billing", "--topic", "work", "--to-earliest"])
            #expect((reset["offsets"] as? [[String: Any]])?.map { $0["offset"] as? Int } == [0, 0])
            lag = try await kafkaAdminJSON(broker, ["groups", "lag", "billing"])
            #expect(lag["totalLag"] as? Int == 10)
            reset = try await kafkaAdminJSON(broker, ["groups", "reset-offsets", "billing", "--topic", "work", "--to-latest"])
            #expect((reset["offsets"] as? [[String: Any]])?.map { $0["offset"] as? Int } == [5, 5])
            // Records at or after 00:00:04: record 4 (partition 0, offset 2) and record 5 (partition 1, offset 2).
            lines = try await kafkaAdminLines(broker, ["groups", "reset-offsets", "billing", "--topic", "work", "--to-datetime", "2024-01-01T00:00:04"])
            #expect(Array(lines.map(cells).prefix(3)) == [["TOPIC", "PARTITION", "NEW-OFFSET"], ["work", "0", "2"], ["work", "1", "2"]])
            // 00:00:06.5 UTC written in another zone, with milliseconds: record 8 (partition 0, offset 4) and record 7
            // (partition 1, offset 3).
            reset = try await kafkaAdminJSON(broker, ["groups", "reset-offsets", "billing", "--topic", "work", "--to-datetime", "2024-01-01T02:00:06.500+02:00"])
            #expect((reset["offsets"] as? [[String: Any]])?.map { $0["offset"] as? Int } == [4, 3])
            let bad = try await kafkaAdmin(["--bootstrap-server", broker.bootstrapServers, "groups", "reset-offsets", "billing", "--topic", "work",
                                            "--to-earliest", "--to-latest"])
            #expect(bad.status != 0 && bad.stderr.contains("exactly one of"))

            lines = try await kafkaAdminLines(broker, ["groups", "delete", "billing"])
            #expect(lines.first == "Deleted group billing")
            let gone = try await kafkaAdmin(["--bootstrap-server", broker.bootstrapServers, "groups", "describe", "billing"])
            #expect(gone.status == 1 && gone.stderr.contains("consumer group billing does not exist"))

            let cluster = try await kafkaAdminJSON(broker, ["cluster", "describe"])
            #expect(cluster["clusterId"] as? String == "mock-broker-cluster")
            #expect(cluster["controller"] as? Int == 1)
            #expect((cluster["brokers"] as? [[String: Any]])?.map { "\($0["id"] ?? "?") \($0["host"] ?? "?"):\($0["port"] ?? "?")" }
                    == ["1 127.0.0.1:\(broker.port)"])
            lines = try await kafkaAdminLines(broker, ["cluster", "describe"])
            #expect(lines.first == "Cluster ID: mock-broker-cluster  Controller: 1")
        }
    }

    @Test("a broker that cannot be reached: exit 1 within --timeout-ms, naming the problem")
    func unreachable() async throws {
        let refusing = try #require(PortReservation(port: 0))
        defer { refusing.release() }
        let port = refusing.port
        let output = try await kafkaAdmin(["--bootstrap-server", "127.0.0.1:\(port)", "--timeout-ms", "500", "topics", "list"])
        #expect(output.status == 1)
        #expect(output.stderr.contains("did not complete within default.api.timeout.ms"))
        #expect(output.stderr.contains("127.0.0.1:\(port)"))
    }
}

/// What `kcat -L -J` prints, with replicas and ISR.
private struct KcatFullMetadata: Decodable {
    struct Broker: Decodable {
        var id: Int
        var name: String
    }

    struct Topic: Decodable {
        struct Partition: Decodable {
            struct Replica: Decodable { var id: Int }
            var partition: Int
            var leader: Int
            var replicas: [Replica]
            var isrs: [Replica]
        }

        var topic: String
        var partitions: [Partition]
    }

    var controllerid: Int
    var brokers: [Broker]
    var topics: [Topic]
}

@Suite("kafka-admin against librdkafka's view of the same broker", .timeLimit(.minutes(2)),
       .requires(.kcat))
struct KafkaAdminKcatTests {
    @Test("topics describe --json and cluster describe --json agree with kcat -L -J: partitions, leaders, replicas, ISR, brokers, controller")
    func metadataAgrees() async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            try await withAdmin(broker) { admin in
                try await admin.createTopic("compared", partitions: 3)
                try await admin.createTopic("other", partitions: 1)
            }
            let output = try await kcat.run(["-L", "-J", "-b", broker.bootstrapServers, "-t", "compared"])
            try #require(output.succeeded, "\(output.summary)")
            let librdkafka = try JSONDecoder().decode(KcatFullMetadata.self, from: output.stdout)
            let theirs = try #require(librdkafka.topics.first { $0.topic == "compared" })

            let ours = try await kafkaAdminJSON(broker, ["topics", "describe", "compared"])
            let partitions = try #require(ours["partitions"] as? [[String: Any]])
            #expect(partitions.map { "\($0["partition"] ?? "?") leader \($0["leader"] ?? "?") replicas \(($0["replicas"] as? [Int]).orNil) isr \(($0["isr"] as? [Int]).orNil)" }
                    == theirs.partitions.sorted { $0.partition < $1.partition }.map {
                        "\($0.partition) leader \($0.leader) replicas \($0.replicas.map(\.id)) isr \($0.isrs.map(\.id))"
                    })

            let cluster = try await kafkaAdminJSON(broker, ["cluster", "describe"])
            #expect(cluster["controller"] as? Int == librdkafka.controllerid)
            #expect((cluster["brokers"] as? [[String: Any]])?.map { "\($0["id"] ?? "?") \($0["host"] ?? "?"):\($0["port"] ?? "?")" }
                    == librdkafka.brokers.map { "\($0.id) \($0.name)" })

            let all = try await kcat.run(["-L", "-J", "-b", broker.bootstrapServers])
            try #require(all.succeeded, "\(all.summary)")
            let everything = try JSONDecoder().decode(KcatFullMetadata.self, from: all.stdout)
            let listed = try await kafkaAdminJSON(broker, ["topics", "list"])
            #expect((listed["topics"] as? [[String: Any]])?.map { "\($0["name"] ?? "?") \($0["partitions"] ?? "?")" }
                    == everything.topics.sorted { $0.topic < $1.topic }.map { "\($0.topic) \($0.partitions.count)" })
        }
    }

    @Test("on a three-broker MockCluster with replication factor 3: topics describe --json and cluster describe --json agree with kcat -L -J")
    func clusterMetadataAgrees() async throws {
        let kcat = try Kcat()
        try await withThreeBrokerCluster { cluster in
            _ = try await kafkaAdminJSON(cluster.bootstrapServers, ["topics", "create", "spread", "--partitions", "4", "--replication-factor", "3"])
            let output = try await kcat.run(["-L", "-J", "-b", cluster.bootstrapServers, "-t", "spread"])
            try #require(output.succeeded, "\(output.summary)")
            let librdkafka = try JSONDecoder().decode(KcatFullMetadata.self, from: output.stdout)
            let theirs = try #require(librdkafka.topics.first { $0.topic == "spread" })
            let ours = try await kafkaAdminJSON(cluster.bootstrapServers, ["topics", "describe", "spread"])
            let partitions = try #require(ours["partitions"] as? [[String: Any]])
            let ourRows = partitions.map { "\($0["partition"] ?? "?") leader \($0["leader"] ?? "?") replicas \(($0["replicas"] as? [Int]).orNil) isr \(($0["isr"] as? [Int]).orNil)" }
            #expect(ourRows == theirs.partitions.sorted { $0.partition < $1.partition }.map {
                "\($0.partition) leader \($0.leader) replicas \($0.replicas.map(\.id)) isr \($0.isrs.map(\.id))"
            })
            #expect(partitions.allSatisfy { ($0["replicas"] as? [Int])?.count == 3 })
            // Leaders spread over the brokers, as Kafka's assignment spreads them.
            #expect(Set(partitions.compactMap { $0["leader"] as? Int }).count == 3)
            let described = try await kafkaAdminJSON(cluster.bootstrapServers, ["cluster", "describe"])
            #expect(described["controller"] as? Int == librdkafka.controllerid)
            #expect((described["brokers"] as? [[String: Any]])?.map { "\($0["id"] ?? "?") \($0["host"] ?? "?"):\($0["port"] ?? "?")" }
                    == librdkafka.brokers.sorted { $0.id < $1.id }.map { "\($0.id) \($0.name)" })
        }
    }
}

@Suite("kafka-admin against librdkafka's admin client (confluent-kafka) on the same broker", .timeLimit(.minutes(2)),
       .requires(.confluentKafka))
struct KafkaAdminConfluentTests {
    @Test("cluster, topic partitions and configs, groups, a group's state, assignor, members and committed offsets, end offsets: kafka-admin --json says what confluent-kafka's AdminClient says")
    func sameView() async throws {
        let python3 = try await Peers.requireConfluentKafka()
        try await withGroupBroker { broker in
            try await withAdmin(broker) { admin in
                try await admin.createTopic("viewed", partitions: 3, configs: ["retention.ms": "1234567", "cleanup.policy": "compact"])
            }
            try await produceNumbered(broker, topic: "viewed", count: 30, partitions: 3)
            let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "viewers", assignor: RangeAssignor()) {
                $0.client.clientId = "viewer-1"
                $0.enableAutoCommit = false
            }, logger: testLogger)
            try consumer.subscribe(topics: ["viewed"])
            #expect(try await consume(consumer, count: 30).count == 30)
            try await consumer.commit()

            let output = try await runProcess(python3, ["\(scriptsDirectory())/confluent_admin_view.py", broker.bootstrapServers, "viewed", "viewers"],
                                              limit: .seconds(60))
            try #require(output.succeeded, "\(output.summary)")
            let theirs = try #require(try JSONSerialization.jsonObject(with: output.stdout) as? [String: Any])
            let theirCluster = try #require(theirs["cluster"] as? [String: Any])
            let theirTopic = try #require(theirs["topic"] as? [String: Any])
            let theirGroup = try #require(theirs["group"] as? [String: Any])

            let cluster = try await kafkaAdminJSON(broker, ["cluster", "describe"])
            #expect(cluster["clusterId"] as? String == theirCluster["clusterId"] as? String)
            #expect(cluster["controller"] as? Int == theirCluster["controller"] as? Int)
            #expect(brokers(cluster["brokers"]) == brokers(theirCluster["brokers"]))

            let topic = try await kafkaAdminJSON(broker, ["topics", "describe", "viewed"])
            #expect(partitionRows(topic["partitions"]) == partitionRows(theirTopic["partitions"]))
            #expect(partitionRows(topic["partitions"]).count == 3)
            let ourConfigs = Dictionary(uniqueKeysWithValues: (topic["configs"] as? [[String: Any]] ?? []).compactMap { entry in
                (entry["name"] as? String).map { ($0, entry["value"] as? String ?? "null") }
            })
            let theirConfigs = (theirTopic["configs"] as? [String: Any])?.mapValues { $0 as? String ?? "null" } ?? [:]
            #expect(ourConfigs == theirConfigs)
            #expect(ourConfigs["retention.ms"] == "1234567")

            let groups = try await kafkaAdminJSON(broker, ["groups", "list"])
            #expect((groups["groups"] as? [[String: Any]])?.compactMap { $0["group"] as? String } == theirs["groups"] as? [String])

            let group = try await kafkaAdminJSON(broker, ["groups", "describe", "viewers"])
            // librdkafka spells states in capitals with underscores (COMPLETING_REBALANCE for CompletingRebalance).
            let state = (group["state"] as? String ?? "").replacing(/([a-z])([A-Z])/) { "\($0.1)_\($0.2)" }.uppercased()
            #expect(state == theirGroup["state"] as? String)
            #expect(state == "STABLE")
            #expect(group["assignor"] as? String == theirGroup["assignor"] as? String)
            let ourMembers = (group["members"] as? [[String: Any]] ?? []).map { member in
                "\(member["clientId"] ?? "?") " + ((member["partitions"] as? [[String: Any]]) ?? []).map { "\($0["topic"] ?? "?")-\($0["partition"] ?? "?")" }.sorted().joined(separator: ",")
            }
            let theirMembers = (theirGroup["members"] as? [[String: Any]] ?? []).map { member in
                "\(member["clientId"] ?? "?") " + ((member["partitions"] as? [[Any]]) ?? []).map { "\($0[0])-\($0[1])" }.sorted().joined(separator: ",")
            }
            #expect(ourMembers == theirMembers)
            #expect(ourMembers == ["viewer-1 viewed-0,viewed-1,viewed-2"])

            let lag = try await kafkaAdminJSON(broker, ["groups", "lag", "viewers"])
            let rows = lag["partitions"] as? [[String: Any]] ?? []
            let ourCommitted = rows.map { "\($0["topic"] ?? "?")-\($0["partition"] ?? "?") \($0["committed"] ?? "?")" }
            let theirCommitted = (theirGroup["offsets"] as? [[Any]] ?? []).map { "\($0[0])-\($0[1]) \($0[2])" }
            #expect(ourCommitted == theirCommitted)
            let ourEnds = rows.map { "\($0["topic"] ?? "?")-\($0["partition"] ?? "?") \($0["endOffset"] ?? "?")" }
            let theirEnds = (theirs["endOffsets"] as? [[Any]] ?? []).map { "\($0[0])-\($0[1]) \($0[2])" }
            #expect(ourEnds == theirEnds)
            #expect(ourEnds == ["viewed-0 10", "viewed-1 10", "viewed-2 10"])
            await consumer.close()
        }
    }

    /// Brokers as `id host:port`, whichever tool's JSON they come from.
    private func brokers(_ value: Any?) -> [String] {
        (value as? [[String: Any]] ?? []).map { "\($0["id"] ?? "?") \($0["host"] ?? "?"):\($0["port"] ?? "?")" }
    }

    /// Partitions as `partition leader replicas isr`, whichever tool's JSON they come from.
    private func partitionRows(_ value: Any?) -> [String] {
        (value as? [[String: Any]] ?? []).map { partition in
            "\(partition["partition"] ?? "?") leader \(partition["leader"] ?? "?") replicas \((partition["replicas"] as? [Int]).orNil) isr \((partition["isr"] as? [Int]).orNil)"
        }
    }
}
