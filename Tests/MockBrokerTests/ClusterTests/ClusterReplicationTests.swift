import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

extension ClusterTests {
    /// A 3-broker ``MockCluster``: replication, ISR, failover and truncation, with this package's idempotent
    /// acks=all producer counting every record (``WellBehavedClient``: every acknowledged record must be read back
    /// exactly once, at the offset acknowledged) and the logs compared with the acknowledgements afterwards.
    @Suite("Cluster: replication and failover", .serialized)
    struct ClusterReplicationTests {
        @Test("followers hold the leader's bytes, replica fetches go out by sendfile, Metadata names replicas, ISR and controller")
        func replicasAreIdentical() async throws {
            try await withCluster { cluster in
                try cluster.createTopic("replicated", partitions: 3, replicationFactor: 3)
                let (_, report) = try await WellBehavedClient.run(
                    bootstrapServers: cluster.bootstrapServers, topic: "replicated", partitions: 3, minimumRecords: 300, maximumRecords: 600) {}
                #expect(report.problems.isEmpty, "\(report)")
                try await expectIdenticalReplicas(cluster, topic: "replicated", partitions: 3)
                #expect(try await compareLogs(cluster, topic: "replicated", partitions: 3, acknowledged: report.acknowledged) == [])

                let statistics = cluster.brokerIds.compactMap { cluster.broker($0)?.statistics }
                #expect(statistics.allSatisfy { $0.fetchBytesCopied == 0 })
                #expect(statistics.allSatisfy { $0.fetchBytesSentByFileRegion > 0 }, "every broker leads a partition its followers fetch")

                let connection = try await cluster.broker(1)!.connect()
                let metadata = try await connection.send(MetadataRequest(topics: [.init(name: "replicated")]))
                await connection.close()
                #expect(metadata.brokers.map(\.nodeId).sorted() == [0, 1, 2])
                #expect(metadata.controllerId == cluster.controllerId && cluster.controllerId == 0)
                let partitions = try #require(metadata.topics.first?.partitions)
                #expect(Set(partitions.map(\.leaderId)) == [0, 1, 2], "leaders spread over the brokers")
                #expect(partitions.allSatisfy { $0.replicaNodes.count == 3 && Set($0.isrNodes) == Set($0.replicaNodes) })
            }
        }

        @Test("a leader stopped, then another killed, during acks=all idempotent produce: 0 lost, 0 duplicated")
        func leaderStoppedAndKilled() async throws {
            try await withCluster { cluster in
                try cluster.createTopic("failover", partitions: 3, replicationFactor: 3)
                let (_, report) = try await WellBehavedClient.run(
                    bootstrapServers: cluster.bootstrapServers, topic: "failover", partitions: 3, minimumRecords: 600, maximumRecords: 1500) {
                    let stopped = try #require(cluster.leader(topic: "failover", partition: 0))
                    try await cluster.stopBroker(stopped)
                    #expect(cluster.leader(topic: "failover", partition: 0) != stopped, "a controlled stop moves leadership first")
                    try await Task.sleep(for: .milliseconds(300))
                    try await cluster.startBroker(stopped)
                    #expect(await cluster.awaitFullyReplicated(topic: "failover", partition: 0))
                    let killed = try #require(cluster.leader(topic: "failover", partition: 1))
                    try await cluster.killBroker(killed)
                    #expect(await waitUntil { cluster.leader(topic: "failover", partition: 1).map { $0 != killed } ?? false },
                            "the controller moves the killed broker's leadership after the session timeout")
                    try await Task.sleep(for: .milliseconds(300))
                    try await cluster.startBroker(killed)
                }
                #expect(report.problems.isEmpty, "\(report)")
                #expect(report.acknowledged.count >= 600)
                try await expectIdenticalReplicas(cluster, topic: "failover", partitions: 3)
                #expect(try await compareLogs(cluster, topic: "failover", partitions: 3, acknowledged: report.acknowledged) == [])
                let epochs = (0..<3).compactMap { cluster.partition(topic: "failover", partition: $0)?.leaderEpoch }
                #expect(epochs.contains { $0 > 0 }, "failover raised leader epochs: \(epochs)")
            }
        }

        @Test("a follower that stops fetching leaves the ISR after replica.lag.time.max.ms, acks=all goes on, and it catches up and rejoins")
        func followerOutOfIsrAndBack() async throws {
            try await withCluster(sessionTimeout(60)) { cluster in
                try cluster.createTopic("lagging", partitions: 1, replicationFactor: 3)
                let leader = try #require(cluster.leader(topic: "lagging", partition: 0))
                let follower = try #require(cluster.partition(topic: "lagging", partition: 0)?.replicas.first { $0 != leader })
                let (_, report) = try await WellBehavedClient.run(
                    bootstrapServers: cluster.bootstrapServers, topic: "lagging", partitions: 1, minimumRecords: 300, maximumRecords: 900) {
                    // Killed, but with a 60 s session the controller does not notice: only the ISR check drops it.
                    try await cluster.killBroker(follower)
                    #expect(await waitUntil { cluster.partition(topic: "lagging", partition: 0).map { !$0.isr.contains(follower) } ?? false })
                    #expect(cluster.leader(topic: "lagging", partition: 0) == leader)
                    try await Task.sleep(for: .milliseconds(300))
                    try await cluster.startBroker(follower)
                    #expect(await waitUntil { cluster.partition(topic: "lagging", partition: 0).map { $0.isr.contains(follower) } ?? false },
                            "the returning follower catches up and rejoins the ISR")
                }
                #expect(report.problems.isEmpty, "\(report)")
                try await expectIdenticalReplicas(cluster, topic: "lagging", partitions: 1)
                #expect(try await compareLogs(cluster, topic: "lagging", partitions: 1, acknowledged: report.acknowledged) == [])
            }
        }

        @Test("min.insync.replicas: NOT_ENOUGH_REPLICAS refuses the write, NOT_ENOUGH_REPLICAS_AFTER_APPEND when the ISR shrank while it waited; acks=1 still writes")
        func minInsyncReplicas() async throws {
            // The produce after the kill must reach the leader before the follower's lag passes replica.lag.time.max.ms
            // (the test default of 2 s also covers the kill's own shutdown): 6 s, under the produce's 10 s timeout.
            try await withCluster({
                $0.replication.brokerSessionTimeout = .seconds(60)
                $0.replication.replicaLagTimeMax = .seconds(6)
            }) { cluster in
                try cluster.createTopic("strict", partitions: 1, replicationFactor: 3, configs: ["min.insync.replicas": "3"])
                #expect(await cluster.awaitFullyReplicated(topic: "strict", partition: 0))
                let leader = try #require(cluster.leader(topic: "strict", partition: 0))
                let follower = try #require(cluster.partition(topic: "strict", partition: 0)?.replicas.first { $0 != leader })
                let connection = try await cluster.broker(leader)!.connect()
                defer { Task { await connection.close() } }
                #expect(try await connection.produce([TextRecord(key: nil, value: "in sync")], topic: "strict").errorCode == 0)

                try await cluster.killBroker(follower)
                // Still in the ISR (it was caught up a moment ago): appended, then the ISR shrinks while it waits.
                let waited = try await connection.produce([TextRecord(key: nil, value: "appended, then short of replicas")], topic: "strict")
                #expect(waited.errorCode == KafkaErrorCode.notEnoughReplicasAfterAppend.rawValue,
                        "\(KafkaErrorCode(rawValue: waited.errorCode))")
                #expect(cluster.partition(topic: "strict", partition: 0)?.isr.contains(follower) == false)

                let before = cluster.partition(topic: "strict", partition: 0)?.logEndOffsets[String(leader)]
                let refused = try await connection.produce([TextRecord(key: nil, value: "refused")], topic: "strict")
                #expect(refused.errorCode == KafkaErrorCode.notEnoughReplicas.rawValue, "\(KafkaErrorCode(rawValue: refused.errorCode))")
                #expect(cluster.partition(topic: "strict", partition: 0)?.logEndOffsets[String(leader)] == before, "nothing was appended")
                #expect(try await connection.produce([TextRecord(key: nil, value: "acks=1")], topic: "strict", acks: 1).errorCode == 0)

                try await cluster.startBroker(follower)
                #expect(await cluster.awaitFullyReplicated(topic: "strict", partition: 0))
                #expect(try await connection.produce([TextRecord(key: nil, value: "in sync again")], topic: "strict").errorCode == 0)
            }
        }

        @Test("a returning broker truncates what only it had (OffsetForLeaderEpoch) and then holds the new leader's bytes")
        func restartWithTruncation() async throws {
            try await withCluster { cluster in
                try cluster.createTopic("diverge", partitions: 1, replicationFactor: 3,
                                        configs: ["unclean.leader.election.enable": "true"])
                #expect(await cluster.awaitFullyReplicated(topic: "diverge", partition: 0))
                let old = try #require(cluster.leader(topic: "diverge", partition: 0))
                let others = cluster.brokerIds.filter { $0 != old }
                let first = try await cluster.broker(old)!.connect()
                for number in 0..<10 { _ = try await first.append([TextRecord(key: nil, value: "committed-\(number)")], topic: "diverge") }
                #expect(await cluster.awaitFullyReplicated(topic: "diverge", partition: 0))

                // The followers go; the old leader alone takes acks=1 writes nobody else will have.
                for id in others { try await cluster.stopBroker(id) }
                for number in 0..<5 {
                    #expect(try await first.produce([TextRecord(key: nil, value: "only-on-old-\(number)")], topic: "diverge", acks: 1).errorCode == 0)
                }
                await first.close()
                try await cluster.killBroker(old)
                #expect(await waitUntil { cluster.leader(topic: "diverge", partition: 0) == nil })

                // An out-of-sync replica comes back and is elected (unclean election is on for the topic).
                try await cluster.startBroker(others[0])
                #expect(await waitUntil { cluster.leader(topic: "diverge", partition: 0) == others[0] })
                let second = try await cluster.broker(others[0])!.connect()
                for number in 0..<3 {
                    #expect(try await second.produce([TextRecord(key: nil, value: "new-leader-\(number)")], topic: "diverge", acks: 1).errorCode == 0)
                }
                await second.close()

                try await cluster.startBroker(old)
                try await cluster.startBroker(others[1])
                try await expectIdenticalReplicas(cluster, topic: "diverge", partitions: 1)
                let values = try await readPartition(cluster.broker(others[0])!, topic: "diverge", partition: 0)
                    .map { $0.value.map { String(buffer: $0) } ?? "" }
                #expect(values == (0..<10).map { "committed-\($0)" } + (0..<3).map { "new-leader-\($0)" })
            }
        }

        @Test("a leader cut off from clients and brokers loses its leadership; healed, it truncates, catches up and rejoins: 0 lost, 0 duplicated")
        func isolatedAndHealed() async throws {
            try await withCluster { cluster in
                try cluster.createTopic("island", partitions: 2, replicationFactor: 3)
                let (_, report) = try await WellBehavedClient.run(
                    bootstrapServers: cluster.bootstrapServers, topic: "island", partitions: 2, minimumRecords: 400, maximumRecords: 1000) {
                    let isolated = try #require(cluster.leader(topic: "island", partition: 0))
                    try await cluster.isolate(isolated)
                    #expect(await waitUntil { cluster.leader(topic: "island", partition: 0).map { $0 != isolated } ?? false })
                    try await Task.sleep(for: .milliseconds(300))
                    try await cluster.heal(isolated)
                    #expect(await waitUntil { cluster.partition(topic: "island", partition: 0).map { $0.isr.contains(isolated) } ?? false })
                }
                #expect(report.problems.isEmpty, "\(report)")
                try await expectIdenticalReplicas(cluster, topic: "island", partitions: 2)
                #expect(try await compareLogs(cluster, topic: "island", partitions: 2, acknowledged: report.acknowledged) == [])
            }
        }

        @Test("a cluster started again on its data directory finds its topics, records, leaders (in new epochs) and committed offsets")
        func restartOnSameDirectory() async throws {
            let directory = try makeTemporaryDirectory("cluster-restart")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            var epochs: [Int32] = []
            try await withCluster({ $0.dataDirectory = directory }) { cluster in
                try cluster.createTopic("kept", partitions: 2, replicationFactor: 3)
                for partition: Int32 in 0..<2 {
                    let connection = try await cluster.broker(try #require(cluster.leader(topic: "kept", partition: partition)))!.connect()
                    _ = try await connection.append((0..<5).map { TextRecord(key: nil, value: "p\(partition)-\($0)") }, topic: "kept",
                                                    partition: partition)
                    await connection.close()
                    #expect(await cluster.awaitFullyReplicated(topic: "kept", partition: partition))
                }
                epochs = (0..<2).compactMap { cluster.partition(topic: "kept", partition: $0)?.leaderEpoch }
                let coordinator = try #require(cluster.coordinator(ofGroup: "keeper"))
                let connection = try await cluster.broker(coordinator)!.connect()
                let commit = try await connection.send(OffsetCommitRequest(groupId: "keeper", generationIdOrMemberEpoch: -1, memberId: "",
                                                                           topics: [.init(name: "kept", partitions: [.init(partitionIndex: 0, committedOffset: 3)])]))
                #expect(commit.topics.first?.partitions.first?.errorCode == 0)
                await connection.close()
            }
            try await withCluster({ $0.dataDirectory = directory }) { cluster in
                for partition: Int32 in 0..<2 {
                    let status = try #require(cluster.partition(topic: "kept", partition: partition))
                    #expect(status.leader >= 0 && status.leaderEpoch > epochs[Int(partition)], "\(status)")
                    let leader = try #require(cluster.broker(status.leader))
                    let values = try await readPartition(leader, topic: "kept", partition: partition).map { $0.value.map { String(buffer: $0) } }
                    #expect(values == (0..<5).map { "p\(partition)-\($0)" })
                }
                let coordinator = try #require(cluster.coordinator(ofGroup: "keeper"))
                #expect(await waitUntil { (try? await cluster.broker(coordinator)!.committedOffsets(group: "keeper").first?.offset) == 3 })
            }
        }
    }
}
