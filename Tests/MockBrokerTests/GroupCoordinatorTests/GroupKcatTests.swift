import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// librdkafka's balanced consumer (`kcat -G`) as a real peer of the group coordinator: it finds the coordinator,
/// joins (MEMBER_ID_REQUIRED and all), leads its group, syncs its own assignment, fetches from the committed or
/// reset offsets, heartbeats, commits and leaves. Raw requests watch the group meanwhile.
@Suite("Group coordinator with kcat -G (librdkafka's balanced consumer)",
       .requires(.kcat),
       .timeLimit(.minutes(2)))
struct GroupKcatTests {
    @Test("kcat joins a group, consumes every partition, commits its offsets and leaves")
    func balancedConsumer() async throws {
        let kcat = try Kcat()
        try await withBroker { broker in
            let topic = "kcat-group-topic", group = "kcat-group"
            try broker.createTopic(topic, partitions: 2)
            let producer = try await broker.connect()
            for partition: Int32 in [0, 1] {
                _ = try await producer.append((0..<3).map { TextRecord(key: "k\(partition)-\($0)", value: "v\(partition)-\($0)") },
                                              topic: topic, partition: partition)
            }
            // Eight messages wanted, six there: kcat stays in the group until two more arrive.
            let consumer = try ChildProcess.launch(kcat.path, [
                "-b", broker.bootstrapServers, "-G", group, topic, "-c", "8", "-J", "-q",
                "-X", "client.id=kcat-group-client", "-X", "auto.offset.reset=earliest",
                "-X", "session.timeout.ms=10000", "-X", "heartbeat.interval.ms=500",
            ], label: "kcat-group")
            do {
                // The group forms: one member, kcat's client id, every partition assigned to it.
                let stable = try await broker.waitForGroup(group) { snapshot in
                    snapshot.state == .stable && snapshot.members.count == 1 && snapshot.members[0].assignment.readableBytes > 0
                }
                let member = stable.members[0]
                #expect(member.clientId == "kcat-group-client" && member.clientHost == "/127.0.0.1")
                #expect(stable.protocolType == "consumer" && stable.leaderId == member.memberId)
                #expect(stable.protocolName == "range" || stable.protocolName == "roundrobin")
                let assignment = try ConsumerProtocolAssignment(decodingWithVersionPrefix: member.assignment)
                #expect(assignment.assignedPartitions.map(\.topic) == [topic])
                #expect(Set(assignment.assignedPartitions.flatMap(\.partitions)) == [0, 1])
                let subscription = try ConsumerProtocolSubscription(decodingWithVersionPrefix: member.metadata)
                #expect(subscription.topics == [topic])

                // Seen through the protocol too.
                let described = try await producer.send(DescribeGroupsRequest(groups: [group]))
                #expect(described.groups.first?.groupState == "Stable")
                #expect(described.groups.first?.members.first?.clientId == "kcat-group-client")
                let listed = try await producer.send(ListGroupsRequest())
                #expect(listed.groups.map(\.groupId).contains(group))
                // A member cannot be deleted from under kcat.
                let delete = try await producer.send(DeleteGroupsRequest(groupsNames: [group]))
                #expect(delete.results.map { code($0.errorCode) } == [.nonEmptyGroup])

                for partition: Int32 in [0, 1] {
                    _ = try await producer.append([TextRecord(key: "late\(partition)", value: "late\(partition)")], topic: topic,
                                                  partition: partition)
                }
                let status = await consumer.waitForExit(limit: .seconds(60))
                #expect(status?.exitedNormally == true && status?.status == 0, "kcat: \(consumer.stderr)")
                let messages = try consumer.stdout.split(separator: "\n").map {
                    try JSONDecoder().decode(KcatMessage.self, from: Data($0.utf8))
                }
                #expect(messages.count == 8)
                for partition: Int32 in [0, 1] {
                    #expect(messages.filter { $0.partition == partition }.map(\.offset) == [0, 1, 2, 3])
                }
                // On leaving, librdkafka committed what it consumed and sent LeaveGroup: the group is empty.
                let empty = try await broker.waitForGroup(group) { $0.state == .empty }
                #expect(empty.members.isEmpty)
                let committed = try await broker.committedOffsets(group: group)
                #expect(committed.map { "\($0.topic)-\($0.partition)@\($0.offset)" } == ["\(topic)-0@4", "\(topic)-1@4"])
                let fetched = try await producer.fetchOffsets(group, [(topic, [0, 1])])
                #expect(fetched.map(\.offset) == [4, 4])
            } catch {
                await consumer.terminate()
                throw error
            }
            await consumer.terminate()
            await producer.close()
        }
    }
}
