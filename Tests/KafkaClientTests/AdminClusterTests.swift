import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// Starts a three-broker ``MockCluster`` on loopback for `body` and always stops it.
func withThreeBrokerCluster<T>(_ body: (MockCluster) async throws -> T) async throws -> T {
    var configuration = MockBrokerConfiguration(host: "127.0.0.1", port: 0)
    configuration.eventLoopThreads = 1
    configuration.groupMinSessionTimeout = .milliseconds(500)
    let cluster = try await MockCluster.start(brokers: 3, configuration: configuration, logger: testLogger)
    do {
        let result = try await body(cluster)
        try await cluster.stop()
        return result
    } catch {
        try? await cluster.stop()
        throw error
    }
}

@Suite("KafkaAdmin against a three-broker MockCluster", .timeLimit(.minutes(2)))
struct AdminClusterTests {
    @Test("cluster mode: brokers and controller; replicated topics; configs altered on every broker; groups at their coordinator; offsets and record deletion at the leaders; a preferred-leader election moves the leader back")
    func everyCallInACluster() async throws {
        try await withThreeBrokerCluster { cluster in
            var configuration = AdminConfiguration(bootstrapServers: cluster.bootstrapServers)
            configuration.defaultApiTimeout = .seconds(30)
            configuration.client.retryBackoff = .milliseconds(20)
            let admin = try KafkaAdmin(configuration: configuration, logger: testLogger)
            do {
                try await exercise(admin, cluster)
                await admin.close()
            } catch {
                await admin.close()
                throw error
            }
        }
    }

    private func exercise(_ admin: KafkaAdmin, _ cluster: MockCluster) async throws {
        let description = try await admin.describeCluster()
        #expect(description.brokers.map(\.id) == [0, 1, 2])
        #expect(description.controller == cluster.controllerId)

        try await admin.createTopic("replicated", partitions: 3, replicationFactor: 3, configs: ["min.insync.replicas": "2"])
        let topic = try #require(try await admin.describeTopics(["replicated"]).first)
        #expect(topic.partitions.count == 3)
        for partition in topic.partitions {
            #expect(Set(partition.replicas) == [0, 1, 2])
            #expect(Set(partition.inSyncReplicas) == [0, 1, 2])
            #expect(partition.leader == partition.replicas.first)
            #expect(partition.leader == cluster.leader(topic: "replicated", partition: partition.partition))
        }
        #expect(await failsWith(.invalidReplicationFactor) { try await admin.createTopic("too-many", partitions: 1, replicationFactor: 4) })

        // A config change reaches every broker, whichever the admin asked.
        try await admin.incrementalAlterConfigs([.topic("replicated"): [.set("retention.ms", to: "7200000")]])
        for id in cluster.brokerIds {
            let connection = try await #require(cluster.broker(id)).connect()
            let answer = try await connection.send(DescribeConfigsRequest(resources: [
                .init(resourceType: ConfigResource.Kind.topic.rawValue, resourceName: "replicated", configurationKeys: ["retention.ms"]),
            ]))
            await connection.close()
            #expect(answer.results.first?.configs.first?.value == "7200000", "broker \(id)")
        }

        // Records through the leaders (acks=all), then offsets and deletion at the leaders.
        try await produceNumbered(cluster.bootstrapServers, topic: "replicated", count: 30, partitions: 3)
        let partitions = (0..<3).map { TopicPartition(topic: "replicated", partition: Int32($0)) }
        let ends = try await admin.listOffsets(Dictionary(uniqueKeysWithValues: partitions.map { ($0, .latest) }))
        #expect(partitions.map { ends[$0]?.offset } == [10, 10, 10])
        #expect(try await admin.deleteRecords(before: [partitions[1]: 4]) == [partitions[1]: 4])
        #expect(try await admin.listOffsets([partitions[1]: .earliest])[partitions[1]]?.offset == 4)

        // Group calls go to the group's coordinator, whichever broker leads its offsets partition.
        try await admin.alterGroupOffsets("auditors", [partitions[0]: OffsetAndMetadata(offset: 3), partitions[2]: OffsetAndMetadata(offset: 10)])
        #expect(try await admin.listGroupOffsets("auditors") == [partitions[0]: OffsetAndMetadata(offset: 3), partitions[2]: OffsetAndMetadata(offset: 10)])
        #expect(try await admin.listGroups().map(\.groupId) == ["auditors"])
        #expect(try await admin.describeGroups(["auditors"]).first?.state == "Empty")
        #expect(try await admin.groupLag("auditors").map { "\($0.topicPartition) \($0.lag.orNil)" } == ["replicated-0 7", "replicated-2 0"])
        #expect(try await admin.resetGroupOffsets("auditors", topic: "replicated", to: .earliest) == [partitions[0]: 0, partitions[1]: 4, partitions[2]: 0])
        try await admin.deleteGroupOffsets("auditors", partitions: [partitions[1]])
        #expect(Set(try await admin.listGroupOffsets("auditors").keys) == [partitions[0], partitions[2]])
        try await admin.deleteGroups(["auditors"])
        #expect(try await admin.listGroups().isEmpty)

        // A preferred-leader election undoes a leadership move.
        let preferred = try #require(topic.partitions[0].replicas.first)
        let other = try #require(topic.partitions[0].replicas.last)
        try cluster.moveLeader(topic: "replicated", partition: 0, to: other)
        #expect(try await admin.describeTopics(["replicated"]).first?.partitions[0].leader == other)
        #expect(try await admin.electLeaders(.preferred, partitions: [partitions[0], partitions[1]])
                == [partitions[0]: .elected, partitions[1]: .notNeeded])
        #expect(cluster.leader(topic: "replicated", partition: 0) == preferred)
        #expect(try await admin.describeTopics(["replicated"]).first?.partitions[0].leader == preferred)
        #expect(try await admin.electLeaders().isEmpty, "every partition has its preferred leader")
        // An unclean election is not needed where a leader is alive.
        #expect(try await admin.electLeaders(.unclean, partitions: [partitions[2]]) == [partitions[2]: .notNeeded])

        try await admin.deleteTopics(["replicated"])
        #expect(try await admin.listTopics().map(\.name).isEmpty)
    }
}

/// ``produceNumbered(_:topic:count:from:partitions:timestamp:)`` for any bootstrap servers (a cluster's).
func produceNumbered(_ bootstrapServers: String, topic: String, count: Int, partitions: Int32) async throws {
    var configuration = ProducerConfiguration(bootstrapServers: bootstrapServers)
    configuration.partitioner = .roundRobin
    let producer = try KafkaProducer(configuration: configuration, logger: testLogger)
    for index in 0..<count {
        try await producer.enqueue(ProducerRecord(topic: topic, partition: Int32(index) % partitions, value: "\(index)"))
    }
    await producer.shutdown()
}
