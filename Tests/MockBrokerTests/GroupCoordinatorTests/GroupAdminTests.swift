import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

@Suite("Group coordinator: DescribeGroups, ListGroups, DeleteGroups")
struct GroupAdminTests {
    @Test("DescribeGroups: Kafka's state names, members with client id and host, metadata and assignment once stable; unknown groups are Dead")
    func describeGroups() async throws {
        try await withBroker { broker in
            let a = try await broker.connect(), b = try await broker.connect()
            let aId = try await formSingleMemberGroup(a, group: "described", protocols: [OfferedProtocol("range", "subscription-a")],
                                                      assignment: "assignment-a")
            let stable = try await a.send(DescribeGroupsRequest(groups: ["described", "unknown"], includeAuthorizedOperations: true))
            #expect(stable.groups.count == 2)
            let group = try #require(stable.groups.first)
            #expect(code(group.errorCode) == .none && group.groupId == "described")
            #expect(group.groupState == "Stable" && group.protocolType == "consumer" && group.protocolData == "range")
            #expect(group.members.map(\.memberId) == [aId])
            let member = try #require(group.members.first)
            #expect(member.clientId == "kafka-tests" && member.clientHost == "/127.0.0.1")
            #expect(member.memberMetadata.text == "subscription-a" && member.memberAssignment.text == "assignment-a")
            #expect(group.authorizedOperations != Int32.min)
            let unknown = try #require(stable.groups.last)
            #expect(code(unknown.errorCode) == .none && unknown.groupState == "Dead" && unknown.members.isEmpty)

            // While rebalancing: the state changes and member metadata and assignments are not shown.
            let bId = try await b.requestMemberId("described")
            async let bJoined = b.joinGroup("described", memberId: bId)
            _ = try await broker.waitForGroup("described") { $0.member(bId)?.isAwaitingJoin == true }
            let preparing = try await a.send(DescribeGroupsRequest(groups: ["described"]), version: 0)
            #expect(preparing.groups.first?.groupState == "PreparingRebalance")
            #expect(preparing.groups.first?.protocolData == "")
            #expect(preparing.groups.first?.members.allSatisfy { $0.memberMetadata.readableBytes == 0 && $0.memberAssignment.readableBytes == 0 } == true)
            _ = try await a.joinGroup("described", memberId: aId, protocols: [OfferedProtocol("range", "subscription-a")])
            _ = try await bJoined
            let completing = try await a.send(DescribeGroupsRequest(groups: ["described"]))
            #expect(completing.groups.first?.groupState == "CompletingRebalance")
            #expect(completing.groups.first?.members.count == 2)
            await a.close()
            await b.close()
        }
    }

    @Test("ListGroups: every group, with the v4 state filter and the v5 type filter")
    func listGroups() async throws {
        try await withBroker { broker in
            try broker.createTopic("listed")
            let connection = try await broker.connect()
            _ = try await formSingleMemberGroup(connection, group: "active")
            #expect(try await connection.commitOffsets("offsets-only", [("listed", 0, 1, nil)]) == [.none])

            let all = try await connection.send(ListGroupsRequest(), version: 0)
            #expect(code(all.errorCode) == .none)
            #expect(all.groups.map(\.groupId) == ["active", "offsets-only"])
            #expect(all.groups.map(\.protocolType) == ["consumer", ""])

            let stable = try await connection.send(ListGroupsRequest(statesFilter: ["stable"]), version: 4)
            #expect(stable.groups.map(\.groupId) == ["active"] && stable.groups.first?.groupState == "Stable")
            let empty = try await connection.send(ListGroupsRequest(statesFilter: ["Empty"]), version: 4)
            #expect(empty.groups.map(\.groupId) == ["offsets-only"])
            let classic = try await connection.send(ListGroupsRequest(typesFilter: ["classic"]), version: 5)
            #expect(classic.groups.count == 2 && classic.groups.allSatisfy { $0.groupType == "classic" })
            let consumer = try await connection.send(ListGroupsRequest(typesFilter: ["consumer"]), version: 5)
            #expect(consumer.groups.isEmpty)
            await connection.close()
        }
    }

    @Test("DeleteGroups: only groups without members (NON_EMPTY_GROUP otherwise), GROUP_ID_NOT_FOUND for unknown ones; offsets go too")
    func deleteGroups() async throws {
        try await withBroker { broker in
            try broker.createTopic("deletable")
            let connection = try await broker.connect()
            _ = try await formSingleMemberGroup(connection, group: "busy")
            #expect(try await connection.commitOffsets("idle", [("deletable", 0, 5, nil)]) == [.none])
            let response = try await connection.send(DeleteGroupsRequest(groupsNames: ["busy", "idle", "missing"]))
            #expect(response.results.map(\.groupId) == ["busy", "idle", "missing"])
            #expect(response.results.map { code($0.errorCode) } == [.nonEmptyGroup, .none, .groupIdNotFound])
            #expect(try await broker.describeGroup("idle") == nil)
            #expect(try await broker.describeGroup("busy")?.state == .stable)
            #expect(try await connection.fetchOffsets("idle", [("deletable", [0])]).map(\.offset) == [-1])
            let again = try await connection.send(DeleteGroupsRequest(groupsNames: ["idle"]), version: 1)
            #expect(again.results.map { code($0.errorCode) } == [.groupIdNotFound])
            await connection.close()
        }
    }

    @Test("the broker advertises the group APIs in ranges librdkafka 2.0 accepts, and reports the group settings")
    func advertisedVersionsAndConfigs() async throws {
        try await withBroker({ $0.groupInitialRebalanceDelay = .milliseconds(250) }) { broker in
            let connection = try await broker.connect()
            let versions = connection.brokerVersions
            #expect(versions[.joinGroup] == 0...9)
            #expect(versions[.syncGroup] == 0...5)
            #expect(versions[.heartbeat] == 0...4)
            #expect(versions[.leaveGroup] == 0...5)
            #expect(versions[.offsetCommit] == 2...9)
            #expect(versions[.offsetFetch] == 1...9)
            #expect(versions[.describeGroups] == 0...5)
            #expect(versions[.listGroups] == 0...5)
            #expect(versions[.deleteGroups] == 1...2)
            let configs = try await connection.send(DescribeConfigsRequest(resources: [
                .init(resourceType: 4, resourceName: "", configurationKeys: ["group.initial.rebalance.delay.ms", "offsets.retention.minutes",
                                                                              "group.min.session.timeout.ms"]),
            ]))
            let entries = Dictionary(uniqueKeysWithValues: (configs.results.first?.configs ?? []).map { ($0.name, $0.value) })
            #expect(entries["group.initial.rebalance.delay.ms"] == "250")
            #expect(entries["offsets.retention.minutes"] == "10080")
            #expect(entries["group.min.session.timeout.ms"] == "6000")
            await connection.close()
        }
    }
}
