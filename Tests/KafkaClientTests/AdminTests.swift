import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import ServiceLifecycle
import Testing

/// An admin client for `broker`, with short backoffs; `timeout` is `default.api.timeout.ms` (a bound on retries,
/// never a measured duration).
func makeAdmin(_ broker: MockBroker, timeout: Duration = .seconds(30)) throws -> KafkaAdmin {
    var configuration = AdminConfiguration(bootstrapServers: broker.bootstrapServers)
    configuration.defaultApiTimeout = timeout
    configuration.client.retryBackoff = .milliseconds(10)
    configuration.client.retryBackoffMax = .milliseconds(100)
    configuration.client.requestTimeout = .seconds(10)
    return try KafkaAdmin(configuration: configuration, logger: testLogger)
}

/// Runs `body` with an admin client of `broker` and closes it.
@discardableResult
func withAdmin<T>(_ broker: MockBroker, timeout: Duration = .seconds(30), _ body: (KafkaAdmin) async throws -> T) async throws -> T {
    let admin = try makeAdmin(broker, timeout: timeout)
    do {
        let result = try await body(admin)
        await admin.close()
        return result
    } catch {
        await admin.close()
        throw error
    }
}

/// A config as `value (source)`, for comparisons; `missing` when there is none.
func shown(_ configs: [ConfigEntry]?, _ name: String) -> String {
    guard let entry = configs?.first(where: { $0.name == name }) else { return "missing" }
    return "\(entry.value ?? "null") (\(entry.source)\(entry.isReadOnly ? ", read-only" : ""))"
}

/// Whether `body` threw a broker error with `code`.
func failsWith(_ code: KafkaErrorCode, _ body: () async throws -> Void) async -> Bool {
    do {
        try await body()
        return false
    } catch let error as KafkaAdminError {
        if case .broker(let got, _) = error { return got == code }
        return false
    } catch {
        return false
    }
}

@Suite("KafkaAdmin against MockBroker", .timeLimit(.minutes(2)))
struct AdminTests {
    @Test("topics: create with configs (and validate only), list, describe partitions with leader, replicas and ISR, add partitions, delete")
    func topics() async throws {
        try await withBroker { broker in
            try await withAdmin(broker) { admin in
                let created = try await admin.createTopics([
                    NewTopic(name: "orders", partitions: 3, replicationFactor: 1, configs: ["retention.ms": "3600000"]),
                    NewTopic(name: "audit", partitions: 1),
                ])
                #expect(created.map(\.name) == ["orders", "audit"])
                #expect(created.map(\.partitions) == [3, 1])
                #expect(created.map(\.replicationFactor) == [1, 1])
                #expect(created.allSatisfy { $0.id != .zero })

                // Validate-only creates nothing.
                try await admin.createTopics([NewTopic(name: "dry-run", partitions: 2)], validateOnly: true)
                #expect(try await admin.listTopics().map(\.name) == ["audit", "orders"])

                let described = try await admin.describeTopics(["orders"])
                let orders = try #require(described.first)
                #expect(orders.id == created[0].id)
                #expect(orders.partitions.map(\.partition) == [0, 1, 2])
                #expect(orders.partitions.allSatisfy { $0.leader == 1 && $0.replicas == [1] && $0.inSyncReplicas == [1] && $0.offlineReplicas.isEmpty })

                try await admin.createPartitions(["orders": 5])
                #expect(try await admin.describeTopics(["orders"]).first?.partitions.count == 5)
                #expect(await failsWith(.invalidPartitions) { try await admin.createPartitions(["orders": 2]) })

                #expect(await failsWith(.topicAlreadyExists) { try await admin.createTopic("orders", partitions: 1) })
                #expect(await failsWith(.invalidReplicationFactor) { try await admin.createTopic("replicated", partitions: 1, replicationFactor: 3) })

                try await admin.deleteTopics(["orders"])
                #expect(try await admin.listTopics().map(\.name) == ["audit"])
                #expect(broker.topicNames == ["audit"])
                // A missing topic fails at once rather than being retried until the timeout.
                #expect(await failsWith(.unknownTopicOrPartition) { _ = try await admin.describeTopics(["orders"]) })
                #expect(await failsWith(.unknownTopicOrPartition) { try await admin.deleteTopics(["orders"]) })
                await #expect(throws: KafkaAdminError.self) { try await admin.createTopic("", partitions: 1) }
            }
        }
    }

    @Test("describe cluster: id, controller and the broker's address")
    func cluster() async throws {
        try await withBroker { broker in
            try await withAdmin(broker) { admin in
                let cluster = try await admin.describeCluster()
                #expect(cluster.clusterId == "mock-broker-cluster")
                #expect(cluster.controller == 1)
                #expect(cluster.brokers.map { "\($0.id) \($0.host):\($0.port) \($0.rack.orNil)" } == ["1 127.0.0.1:\(broker.port) nil"])
            }
        }
    }

    @Test("configs: describe a topic's and the broker's; incremental set, append, delete; refusals; altered configs survive a restart")
    func configs() async throws {
        try await withTemporaryDirectory("admin-configs") { directory in
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                try await withAdmin(broker) { admin in
                    try await admin.createTopic("events", partitions: 1, configs: ["retention.ms": "60000"])
                    let topic = ConfigResource.topic("events")
                    var configs = try #require(try await admin.describeConfigs([topic])[topic])
                    #expect(shown(configs, "retention.ms") == "60000 (topic)")
                    #expect(configs.first { $0.name == "segment.bytes" }?.isDefault == true)

                    try await admin.incrementalAlterConfigs([topic: [
                        .set("retention.ms", to: "1000"), .set("max.message.bytes", to: "2048"),
                        AlterConfigOperation(name: "cleanup.policy", kind: .append, value: "compact"),
                    ]])
                    configs = try #require(try await admin.describeConfigs([topic])[topic])
                    #expect(shown(configs, "retention.ms") == "1000 (topic)")
                    #expect(shown(configs, "max.message.bytes") == "2048 (topic)")
                    #expect(shown(configs, "cleanup.policy") == "delete,compact (topic)")

                    try await admin.incrementalAlterConfigs([topic: [.delete("max.message.bytes")]])
                    configs = try #require(try await admin.describeConfigs([topic])[topic])
                    #expect(shown(configs, "max.message.bytes") == "1048588 (defaultConfig)")

                    // Validate-only changes nothing; bad values and names are INVALID_CONFIG, all or nothing.
                    try await admin.incrementalAlterConfigs([topic: [.set("retention.ms", to: "5")]], validateOnly: true)
                    #expect(await failsWith(.invalidConfig) {
                        try await admin.incrementalAlterConfigs([topic: [.set("retention.ms", to: "7"), .set("segment.bytes", to: "not a number")]])
                    })
                    #expect(await failsWith(.invalidConfig) { try await admin.incrementalAlterConfigs([topic: [.set("no.such.config", to: "1")]]) })
                    #expect(await failsWith(.unknownTopicOrPartition) {
                        try await admin.incrementalAlterConfigs([.topic("missing"): [.set("retention.ms", to: "1")]])
                    })
                    #expect(shown(try await admin.describeConfigs([topic])[topic], "retention.ms") == "1000 (topic)")

                    let brokerConfigs = try #require(try await admin.describeConfigs([.broker(1)])[.broker(1)])
                    #expect(shown(brokerConfigs, "num.partitions") == "1 (staticBroker, read-only)")
                    #expect(await failsWith(.invalidRequest) { try await admin.incrementalAlterConfigs([.broker(1): [.set("num.partitions", to: "3")]]) })
                }
            }
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                try await withAdmin(broker) { admin in
                    let configs = try #require(try await admin.describeConfigs([.topic("events")])[.topic("events")])
                    #expect(shown(configs, "retention.ms") == "1000 (topic)")
                    #expect(shown(configs, "cleanup.policy") == "delete,compact (topic)")
                    #expect(shown(configs, "max.message.bytes") == "1048588 (defaultConfig)")
                }
            }
        }
    }

    @Test("offsets: earliest, latest, max timestamp and by time; delete records moves the log start")
    func offsetsAndDeleteRecords() async throws {
        try await withBroker { broker in
            try broker.createTopic("timed", partitions: 2)
            // Record i goes to partition i % 2 with timestamp 1_000_000 + i * 1000.
            try await produceNumbered(broker, topic: "timed", count: 20, partitions: 2) { 1_000_000 + Int64($0) * 1000 }
            try await withAdmin(broker) { admin in
                let p0 = TopicPartition(topic: "timed", partition: 0)
                let p1 = TopicPartition(topic: "timed", partition: 1)
                let found = try await admin.listOffsets([p0: .earliest, p1: .latest])
                #expect(found[p0]?.offset == 0)
                #expect(found[p1]?.offset == 10)
                // Partition 1 holds records 1, 3, 5, ...: the first at or after 1_004_500 is record 5, offset 2.
                let byTime = try await admin.listOffsets([p1: .timestamp(1_004_500), p0: .timestamp(9_000_000)])
                #expect(byTime[p1]?.offset == 2)
                #expect(byTime[p1]?.timestamp == 1_005_000)
                #expect(byTime[p0] == nil, "no record is that recent")
                let newest = try await admin.listOffsets([p0: .maxTimestamp])[p0]
                #expect(newest?.offset == 9)
                #expect(newest?.timestamp == 1_018_000)

                let low = try await admin.deleteRecords(before: [p0: 4, p1: -1])
                #expect(low == [p0: 4, p1: 10])
                #expect(try await admin.listOffsets([p0: .earliest])[p0]?.offset == 4)
                #expect(broker.offsets(topic: "timed", partition: 1)?.logStartOffset == 10)
                #expect(await failsWith(.offsetOutOfRange) { try await admin.deleteRecords(before: [p0: 99]) })
                #expect(await failsWith(.unknownTopicOrPartition) { _ = try await admin.listOffsets([TopicPartition(topic: "timed", partition: 7): .latest]) })
            }
        }
    }

    @Test("groups: an active group is listed and described with its members' partitions; its offsets cannot be altered, deleted or the group deleted; once empty, lag, reset to earliest, latest and a time, OffsetDelete and delete work")
    func groups() async throws {
        try await withGroupBroker { broker in
            try broker.createTopic("work", partitions: 2)
            try await produceNumbered(broker, topic: "work", count: 10, partitions: 2) { 2_000_000 + Int64($0) * 1000 }
            try await withAdmin(broker) { admin in
                let consumer = try KafkaConsumer(configuration: groupConsumerConfiguration(broker, group: "workers") {
                    $0.client.clientId = "worker-1"
                    $0.enableAutoCommit = false
                }, logger: testLogger)
                try consumer.subscribe(topics: ["work"])
                #expect(try await consume(consumer, count: 4).count >= 4)
                try await consumer.commit()
                let stable = try await eventually {
                    try await admin.describeGroups(["workers"]).first.map { $0.state == "Stable" && $0.members.first?.assignment.count == 2 } ?? false
                }
                #expect(stable)
                let description = try #require(try await admin.describeGroups(["workers"]).first)
                #expect(description.protocolType == "consumer")
                #expect(description.assignor == "cooperative-sticky")
                #expect(description.coordinator == 1)
                #expect(description.members.map(\.clientId) == ["worker-1"])
                #expect(description.members.first?.assignment == [TopicPartition(topic: "work", partition: 0), TopicPartition(topic: "work", partition: 1)])
                #expect(try await admin.listGroups().map { [$0.groupId, $0.state, $0.protocolType] } == [["workers", "Stable", "consumer"]])

                let p0 = TopicPartition(topic: "work", partition: 0)
                let p1 = TopicPartition(topic: "work", partition: 1)
                let lagWhileActive = try await admin.groupLag("workers")
                #expect(lagWhileActive.map(\.memberId) == description.members.map(\.memberId) + description.members.map(\.memberId))
                #expect(lagWhileActive.allSatisfy { $0.endOffset == 5 && $0.clientId == "worker-1" })

                // Kafka's refusals for a group with members.
                #expect(await failsWith(.unknownMemberId) { try await admin.alterGroupOffsets("workers", [p0: OffsetAndMetadata(offset: 0)]) })
                #expect(await failsWith(.groupSubscribedToTopic) { try await admin.deleteGroupOffsets("workers", partitions: [p0]) })
                #expect(await failsWith(.nonEmptyGroup) { try await admin.deleteGroups(["workers"]) })

                await consumer.close()
                #expect(try await eventually { try await admin.describeGroups(["workers"]).first?.state == "Empty" })

                // Simple commits by the admin: lag follows them.
                try await admin.alterGroupOffsets("workers", [p0: OffsetAndMetadata(offset: 1, metadata: "by admin"), p1: OffsetAndMetadata(offset: 5)])
                #expect(try await admin.listGroupOffsets("workers")[p0] == OffsetAndMetadata(offset: 1, metadata: "by admin"))
                #expect(try await admin.listGroupOffsets("workers", partitions: [p1]) == [p1: OffsetAndMetadata(offset: 5)])
                let lag = try await admin.groupLag("workers")
                #expect(lag.map { "\($0.topicPartition) committed \($0.committed.orNil) end \($0.endOffset) lag \($0.lag.orNil)" }
                    == ["work-0 committed 1 end 5 lag 4", "work-1 committed 5 end 5 lag 0"])
                #expect(lag.allSatisfy { $0.memberId == nil })

                #expect(try await admin.resetGroupOffsets("workers", topic: "work", to: .earliest) == [p0: 0, p1: 0])
                #expect(try await admin.groupLag("workers").compactMap(\.lag) == [5, 5])
                #expect(try await admin.resetGroupOffsets("workers", topic: "work", to: .latest) == [p0: 5, p1: 5])
                // Partition 1 holds records 1, 3, 5, 7, 9: the first at or after 2_004_000 is record 5 (offset 2);
                // partition 0's records 0, 2, 4, ...: record 4 (offset 2).
                #expect(try await admin.resetGroupOffsets("workers", topic: "work", to: .timestamp(2_004_000)) == [p0: 2, p1: 2])
                // Past the last record: the log end, as kafka-consumer-groups does.
                #expect(try await admin.resetGroupOffsets("workers", partitions: [p1], to: .timestamp(9_000_000)) == [p1: 5])

                try await admin.deleteGroupOffsets("workers", partitions: [p1])
                #expect(try await admin.listGroupOffsets("workers") == [p0: OffsetAndMetadata(offset: 2)])
                #expect(try await admin.groupLag("workers").map(\.partition) == [0])

                try await admin.deleteGroups(["workers"])
                #expect(try await admin.listGroups().isEmpty)
                let dead = try await admin.describeGroups(["workers"]).first
                #expect(dead?.state == "Dead")
                #expect(dead?.members.isEmpty == true)
                #expect(await failsWith(.groupIdNotFound) { try await admin.deleteGroups(["workers"]) })
                #expect(await failsWith(.groupIdNotFound) { _ = try await admin.groupLag("workers") })
                #expect(await failsWith(.groupIdNotFound) { try await admin.deleteGroupOffsets("workers", partitions: [p0]) })
            }
        }
    }

    @Test("elect leaders: every named partition already has its preferred leader (ELECTION_NOT_NEEDED); unknown partitions fail")
    func electLeaders() async throws {
        try await withBroker { broker in
            try broker.createTopic("led", partitions: 2)
            try await withAdmin(broker) { admin in
                let p0 = TopicPartition(topic: "led", partition: 0)
                let p1 = TopicPartition(topic: "led", partition: 1)
                let missing = TopicPartition(topic: "led", partition: 5)
                let results = try await admin.electLeaders(.preferred, partitions: [p0, p1, missing])
                #expect(results[p0] == .notNeeded)
                #expect(results[p1] == .notNeeded)
                guard case .failed(let code, _)? = results[missing] else {
                    Issue.record("expected a failure for \(missing), got \(String(describing: results[missing]))")
                    return
                }
                #expect(code == .unknownTopicOrPartition)
                #expect(try await admin.electLeaders(.unclean, partitions: [p0]) == [p0: .notNeeded])
                #expect(try await admin.electLeaders().isEmpty)
            }
        }
    }

    @Test("retriable errors are retried after refreshing the routing: NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, a leader change, a dropped connection to the controller")
    func retries() async throws {
        try await withBroker { broker in
            try broker.createTopic("retried", partitions: 1)
            try await withAdmin(broker) { admin in
                let partition = TopicPartition(topic: "retried", partition: 0)
                try broker.injectFault(Fault(api: .offsetCommit, group: "g", action: .error(.coordinatorLoadInProgress), count: 2))
                try await admin.alterGroupOffsets("g", [partition: OffsetAndMetadata(offset: 0)])
                try broker.injectFault(Fault(api: .offsetFetch, group: "g", action: .error(.notCoordinator), count: 2))
                try broker.injectFault(Fault(api: .findCoordinator, group: "g", action: .error(.coordinatorNotAvailable), count: 1))
                #expect(try await admin.listGroupOffsets("g") == [partition: OffsetAndMetadata(offset: 0)])
                // A leader change: the partition's leader answers NOT_LEADER_OR_FOLLOWER until the metadata is fresh.
                try broker.injectFault(Fault(api: .listOffsets, topic: "retried", partition: 0, action: .error(.notLeaderOrFollower), count: 2))
                #expect(try await admin.listOffsets([partition: .latest])[partition]?.offset == 0)
                let metadataBefore = broker.statistics.requests["Metadata"] ?? 0
                try broker.injectFault(Fault(api: .listOffsets, topic: "retried", action: .error(.leaderNotAvailable), count: 1))
                #expect(try await admin.listOffsets([partition: .earliest])[partition]?.offset == 0)
                #expect((broker.statistics.requests["Metadata"] ?? 0) - metadataBefore == 2, "the metadata was asked again before the retry")
                try broker.injectFault(Fault(api: .createTopics, action: .closeConnection, count: 1))
                try await admin.createTopic("after-reconnect", partitions: 1)
                #expect(broker.topicNames.contains("after-reconnect"))
                #expect(broker.pendingFaults.isEmpty)
            }
        }
    }

    @Test("retries stop at default.api.timeout.ms with the last error; non-retriable errors are not retried")
    func retriesAreBounded() async throws {
        try await withBroker { broker in
            try await withAdmin(broker, timeout: .seconds(10)) { admin in
                // The coordinator found and connected first, so the first attempt under the fault is one round trip
                // on an open connection, whose answer comes well within the 10 s even on a loaded machine (the
                // call's last request is cut short at the deadline: without an answer before it, the last error
                // would be that request's timeout).
                #expect(try await admin.listGroupOffsets("stuck").isEmpty)
                try broker.injectFault(Fault(api: .offsetFetch, group: "stuck", action: .error(.notCoordinator), count: 1_000_000))
                do throws(KafkaAdminError) {
                    _ = try await admin.listGroupOffsets("stuck")
                    Issue.record("listGroupOffsets succeeded against a coordinator that never answers")
                } catch {
                    guard case .timedOut(let operation, let last) = error else {
                        Issue.record("expected timedOut, got \(error)")
                        return
                    }
                    #expect(operation.contains("OffsetFetch"))
                    #expect(last?.brokerErrorCode == .notCoordinator, "last error: \(String(describing: last))")
                    #expect(error.brokerErrorCode == .notCoordinator)
                }
                try broker.clearFaults()
                try broker.injectFault(Fault(api: .offsetFetch, group: "refused", action: .error(.groupAuthorizationFailed), count: 2))
                #expect(await failsWith(.groupAuthorizationFailed) { _ = try await admin.listGroupOffsets("refused") })
                // Only one attempt was made: one use of the fault is left.
                #expect(broker.pendingFaults.map(\.count) == [1])
            }
        }
    }

    @Test("closed: calls after close throw .closed; as a Service it closes at graceful shutdown")
    func closing() async throws {
        try await withBroker { broker in
            let admin = try makeAdmin(broker)
            #expect(try await admin.listTopics().isEmpty)
            await admin.close()
            await #expect(throws: KafkaAdminError.self) { _ = try await admin.listTopics() }
            #expect(throws: KafkaAdminError.self) { try KafkaAdmin(configuration: AdminConfiguration(bootstrapServers: "no-port")) }

            let service = try makeAdmin(broker)
            let group = ServiceGroup(configuration: .init(services: [service], logger: testLogger))
            let running = Task { try await group.run() }
            try await service.createTopic("from-service", partitions: 1)
            await group.triggerGracefulShutdown()
            try await running.value
            await #expect(throws: KafkaAdminError.self) { _ = try await service.listTopics() }
        }
    }
}

extension Optional where Wrapped: CustomStringConvertible {
    /// The value, or `nil`, for messages.
    var orNil: String { map(\.description) ?? "nil" }
}
