import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

@Suite("Group coordinator: group metadata across restarts")
struct GroupPersistenceTests {
    @Test("a Stable group comes back after a restart with its generation, leader, protocol, members and assignments; members carry on without a rebalance")
    func stableGroupSurvivesRestart() async throws {
        try await withTemporaryDirectory("group-metadata-stable") { directory in
            let group = "survivors"
            let (aId, bId, before) = try await withBroker({ $0.dataDirectory = directory }) { broker in
                try broker.createTopic("work", partitions: 2)
                let a = try await broker.connect(), b = try await broker.connect()
                let formed = try await formStableTwoMemberGroup(broker, a, b, group: group)
                let before = try #require(try await broker.describeGroup(group))
                await a.close()
                await b.close()
                return (formed.a, formed.b, before)
            }
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let after = try #require(try await broker.describeGroup(group))
                #expect(after.state == .stable && after.generationId == 2 && after.leaderId == aId)
                #expect(after.protocolType == "consumer" && after.protocolName == "range")
                #expect(after.members.map(\.memberId) == [aId, bId])
                #expect(after.members.map(\.assignment.text) == ["a", "b"])
                #expect(after.members.map(\.metadata.text) == ["meta-range", "meta-range"])
                // Everything else as well: client ids and hosts, timeouts, nobody waiting.
                #expect(after == before)

                // Members reconnect and go on with their generation: no JoinGroup, no rebalance.
                let a = try await broker.connect(), b = try await broker.connect()
                #expect(try await a.heartbeat(group, generation: 2, memberId: aId) == .none)
                #expect(try await b.heartbeat(group, generation: 2, memberId: bId) == .none)
                #expect(try await a.commitOffsets(group, generation: 2, memberId: aId, [("work", 0, 5, nil)]) == [.none])
                #expect(try await b.commitOffsets(group, generation: 2, memberId: bId, [("work", 1, 7, nil)]) == [.none])
                // A member that lost its SyncGroup answer gets its assignment again.
                #expect(try await b.syncGroup(group, generation: 2, memberId: bId).assignment.text == "b")
                let still = try #require(try await broker.describeGroup(group))
                #expect(still.state == .stable && still.generationId == 2)
                // An old generation is still refused.
                #expect(try await a.heartbeat(group, generation: 1, memberId: aId) == .illegalGeneration)
                await a.close()
                await b.close()
            }
        }
    }

    @Test("after a restart, a loaded member that never comes back expires after its session timeout and the group rebalances")
    func loadedMemberExpires() async throws {
        try await withTemporaryDirectory("group-metadata-expiry") { directory in
            let group = "half-back"
            func configure(_ configuration: inout MockBrokerConfiguration) {
                configuration.dataDirectory = directory
                configuration.groupMinSessionTimeout = .milliseconds(1)
            }
            // B's session is short (6 s: long enough to get through joining and syncing, and to describe the loaded
            // group, on a loaded machine).
            let (aId, bId) = try await withBroker(configure) { broker in
                let a = try await broker.connect(), b = try await broker.connect()
                let formed = try await formStableTwoMemberGroup(broker, a, b, group: group, sessionTimeoutMs: (30_000, 6000))
                await a.close()
                await b.close()
                return (formed.a, formed.b)
            }
            try await withBroker(configure) { broker in
                let loaded = try #require(try await broker.describeGroup(group))
                #expect(loaded.state == .stable && loaded.members.map(\.memberId) == [aId, bId])
                // Only A comes back. Its heartbeats say NONE until B's session (started at load) runs out.
                let a = try await broker.connect()
                let deadline = ContinuousClock.now + .seconds(20)
                var observed = KafkaErrorCode.none
                while observed == .none && ContinuousClock.now < deadline {
                    observed = try await a.heartbeat(group, generation: 2, memberId: aId)
                    if observed == .none { try await Task.sleep(for: .milliseconds(25)) }
                }
                #expect(observed == .rebalanceInProgress)
                let preparing = try #require(try await broker.describeGroup(group))
                #expect(preparing.state == .preparingRebalance && preparing.members.map(\.memberId) == [aId])
                let rejoined = try await a.joinGroup(group, memberId: aId, sessionTimeoutMs: 30_000)
                #expect(code(rejoined.errorCode) == .none && rejoined.generationId == 3)
                #expect(rejoined.members.map(\.memberId) == [aId])
                await a.close()
            }
        }
    }

    @Test("an Empty group keeps its generation across a restart; offset expiry removes it for good")
    func emptyGroupKeepsGeneration() async throws {
        try await withTemporaryDirectory("group-metadata-empty") { directory in
            let group = "emptied"
            // A short retention, so that the expiry below needs no clock days ahead (which would roll the log's
            // segment and have compaction drop the group whether or not it was tombstoned).
            func configure(_ configuration: inout MockBrokerConfiguration) {
                configuration.dataDirectory = directory
                configuration.offsetsRetention = .seconds(60)
            }
            try await withBroker(configure) { broker in
                try broker.createTopic("seen")
                let connection = try await broker.connect()
                let memberId = try await formSingleMemberGroup(connection, group: group)
                #expect(try await connection.commitOffsets(group, generation: 1, memberId: memberId, [("seen", 0, 3, nil)]) == [.none])
                _ = try await connection.send(LeaveGroupRequest(groupId: group, memberId: memberId), version: 1)
                let empty = try await broker.waitForGroup(group) { $0.state == .empty }
                #expect(empty.generationId == 2)
                // A group that empties without ever committing is stored too.
                let quietId = try await formSingleMemberGroup(connection, group: "never-committed")
                _ = try await connection.send(LeaveGroupRequest(groupId: "never-committed", memberId: quietId), version: 1)
                _ = try await broker.waitForGroup("never-committed") { $0.state == .empty }
                await connection.close()
            }
            try await withBroker(configure) { broker in
                let loaded = try #require(try await broker.describeGroup(group))
                #expect(loaded.state == .empty && loaded.generationId == 2 && loaded.members.isEmpty)
                #expect(loaded.protocolType == "consumer")
                #expect(try await broker.committedOffsets(group: group).map(\.offset) == [3])
                let quiet = try #require(try await broker.describeGroup("never-committed"))
                #expect(quiet.state == .empty && quiet.generationId == 2)

                // The next join goes on from the stored generation.
                let connection = try await broker.connect()
                let memberId = try await connection.requestMemberId(group)
                let joined = try await connection.joinGroup(group, memberId: memberId)
                #expect(code(joined.errorCode) == .none && joined.generationId == 3 && joined.leader == memberId)
                let synced = try await connection.syncGroup(group, generation: 3, memberId: memberId, assignments: [memberId: "all"])
                #expect(code(synced.errorCode) == .none)
                _ = try await connection.send(LeaveGroupRequest(groupId: group, memberId: memberId), version: 1)
                _ = try await broker.waitForGroup(group) { $0.state == .empty && $0.generationId == 4 }
                await connection.close()

                // Past the retention both groups expire (offsets and metadata tombstoned).
                #expect(try await broker.expireOffsets(now: Date().addingTimeInterval(120)) == 1)
                #expect(try await broker.groupIds().isEmpty)
            }
            try await withBroker(configure) { broker in
                let groups = try await broker.groupIds()
                #expect(groups.isEmpty, "the tombstones hold after a restart")
            }
        }
    }

    @Test("a deleted group stays deleted after a restart, and compacting the log keeps live group metadata")
    func deletionAndCompaction() async throws {
        try await withTemporaryDirectory("group-metadata-compacted") { directory in
            func smallSegments(_ configuration: inout MockBrokerConfiguration) {
                configuration.dataDirectory = directory
                configuration.offsetsTopicSegmentBytes = 16 * 1024
            }
            let keptId = try await withBroker(smallSegments) { broker in
                try broker.createTopic("hot", partitions: 3)
                let connection = try await broker.connect()
                // Stored once, before everything else: compaction must keep it.
                // A long session: nothing heartbeats for it while the next broker commits.
                let keptId = try await formSingleMemberGroup(connection, group: "kept", sessionTimeoutMs: 60_000,
                                                             assignment: "kept-assignment")
                let doomedId = try await formSingleMemberGroup(connection, group: "doomed")
                #expect(try await connection.commitOffsets("doomed", generation: 1, memberId: doomedId, [("hot", 0, 1, nil)]) == [.none])
                _ = try await connection.send(LeaveGroupRequest(groupId: "doomed", memberId: doomedId), version: 1)
                _ = try await broker.waitForGroup("doomed") { $0.state == .empty }
                let deleted = try await connection.send(DeleteGroupsRequest(groupsNames: ["doomed"]))
                #expect(deleted.results.map { code($0.errorCode) } == [.none])
                await connection.close()
                return keptId
            }
            // The tombstone holds: the deleted group does not come back, the other one does.
            try await withBroker(smallSegments) { broker in
                #expect(try await broker.groupIds() == ["kept"])
                #expect(try await broker.describeGroup("doomed") == nil)
                let connection = try await broker.connect()
                // About 140 bytes a commit: some 200 KiB of log without compaction.
                for round in 0..<1500 {
                    #expect(try await connection.commitOffsets("busy", [("hot", Int32(round % 3), Int64(round), nil)]) == [.none])
                }
                await connection.close()
            }
            let size = try offsetsLogBytes(directory)
            #expect(size < 64 * 1024, "the offsets log holds \(size) bytes")
            try await withBroker(smallSegments) { broker in
                #expect(try await broker.groupIds() == ["busy", "kept"])
                #expect(try await broker.describeGroup("doomed") == nil)
                let kept = try #require(try await broker.describeGroup("kept"))
                #expect(kept.state == .stable && kept.generationId == 1 && kept.leaderId == keptId)
                #expect(kept.members.map(\.assignment.text) == ["kept-assignment"])
                let connection = try await broker.connect()
                #expect(try await connection.heartbeat("kept", generation: 1, memberId: keptId) == .none)
                await connection.close()
            }
        }
    }

    @Test("a static member that rejoined under a new id keeps it across a restart")
    func staticMemberReplacementSurvivesRestart() async throws {
        try await withTemporaryDirectory("group-metadata-static") { directory in
            let group = "static-restart"
            let newId = try await withBroker({ $0.dataDirectory = directory }) { broker in
                // A session that outlasts a loaded machine: the first member must not expire before the second joins.
                let first = try await broker.connect()
                let joined = try await first.joinGroup(group, instanceId: "instance", sessionTimeoutMs: 120_000, version: 5)
                #expect(code(joined.errorCode) == .none && joined.generationId == 1)
                _ = try await first.syncGroup(group, generation: 1, memberId: joined.memberId, instanceId: "instance",
                                              assignments: [joined.memberId: "mine"])
                // The instance restarts: a new member id, same generation, no rebalance.
                let second = try await broker.connect()
                let rejoined = try await second.joinGroup(group, instanceId: "instance", sessionTimeoutMs: 120_000, version: 5)
                #expect(code(rejoined.errorCode) == .none && rejoined.generationId == 1 && rejoined.memberId != joined.memberId)
                await first.close()
                await second.close()
                return rejoined.memberId
            }
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let loaded = try #require(try await broker.describeGroup(group))
                #expect(loaded.state == .stable && loaded.members.map(\.memberId) == [newId])
                #expect(loaded.members.first?.groupInstanceId == "instance")
                let connection = try await broker.connect()
                #expect(try await connection.heartbeat(group, generation: 1, memberId: newId, instanceId: "instance") == .none)
                #expect(try await connection.syncGroup(group, generation: 1, memberId: newId, instanceId: "instance").assignment.text == "mine")
                await connection.close()
            }
        }
    }

    @Test("a generation whose metadata cannot be stored: the leader's SyncGroup gets UNKNOWN_SERVER_ERROR and the group rebalances")
    func unstorableGeneration() async throws {
        try await withBroker({ $0.log.maxMessageBytes = 4000 }) { broker in
            let group = "oversized"
            let connection = try await broker.connect()
            let memberId = try await connection.requestMemberId(group)
            let joined = try await connection.joinGroup(group, memberId: memberId)
            #expect(code(joined.errorCode) == .none && joined.generationId == 1)
            // An assignment larger than a batch of the offsets log may be.
            let huge = String(repeating: "x", count: 5000)
            let refused = try await connection.syncGroup(group, generation: 1, memberId: memberId, assignments: [memberId: huge])
            #expect(code(refused.errorCode) == .unknownServerError && refused.assignment.readableBytes == 0)
            let preparing = try #require(try await broker.describeGroup(group))
            #expect(preparing.state == .preparingRebalance && preparing.members.map(\.memberId) == [memberId])
            // The member rejoins; a storable assignment completes the next generation.
            let rejoined = try await connection.joinGroup(group, memberId: memberId)
            #expect(code(rejoined.errorCode) == .none && rejoined.generationId == 2)
            let synced = try await connection.syncGroup(group, generation: 2, memberId: memberId, assignments: [memberId: "small"])
            #expect(code(synced.errorCode) == .none && synced.assignment.text == "small")
            #expect(try await broker.describeGroup(group)?.state == .stable)
            await connection.close()
        }
    }
}

/// Two members in generation 2, both synced (A the leader, assigning "a" and "b"): the member ids.
private func formStableTwoMemberGroup(_ broker: MockBroker, _ a: BrokerConnection, _ b: BrokerConnection, group: String,
                                      sessionTimeoutMs: (a: Int32, b: Int32) = (10_000, 10_000)) async throws -> (a: String, b: String) {
    let (aId, bId, _, _) = try await formTwoMemberGroup(broker, a, b, group: group, sessionTimeoutMs: sessionTimeoutMs)
    // B syncs first and waits, so its session starts over when the leader's assignment arrives.
    async let bSynced = b.syncGroup(group, generation: 2, memberId: bId)
    _ = try await broker.waitForGroup(group) { $0.member(bId)?.isAwaitingSync == true }
    let aSynced = try await a.syncGroup(group, generation: 2, memberId: aId, assignments: [aId: "a", bId: "b"])
    #expect(code(aSynced.errorCode) == .none && aSynced.assignment.text == "a")
    let bAssignment = try await bSynced
    #expect(code(bAssignment.errorCode) == .none && bAssignment.assignment.text == "b")
    return (aId, bId)
}
