import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

@Suite("Group coordinator: committed offsets")
struct GroupOffsetTests {
    @Test("OffsetCommit from a member: generation and member checks, metadata, leader epochs, per-partition errors")
    func memberCommits() async throws {
        try await withBroker { broker in
            try broker.createTopic("orders", partitions: 2)
            let a = try await broker.connect(), b = try await broker.connect()
            let group = "committers"
            let aId = try await formSingleMemberGroup(a, group: group)

            let committed = try await a.commitOffsets(group, generation: 1, memberId: aId,
                                                      [("orders", 0, 42, "checkpoint"), ("orders", 1, 7, nil)],
                                                      leaderEpoch: 3)
            #expect(committed == [.none, .none])
            let fetched = try await a.fetchOffsets(group, [("orders", [0, 1]), ("other", [0])])
            #expect(fetched == [
                FetchedOffset(topic: "orders", partition: 0, offset: 42, leaderEpoch: 3, metadata: "checkpoint", error: .none),
                // A null metadata is stored as an empty string, as Kafka stores it.
                FetchedOffset(topic: "orders", partition: 1, offset: 7, leaderEpoch: 3, metadata: "", error: .none),
                // Nothing committed: offset -1, no error.
                FetchedOffset(topic: "other", partition: 0, offset: -1, leaderEpoch: -1, metadata: "", error: .none),
            ])

            // Wrong generation, unknown member; a simple commit while the group has members.
            #expect(try await a.commitOffsets(group, generation: 0, memberId: aId, [("orders", 0, 50, nil)]) == [.illegalGeneration])
            #expect(try await a.commitOffsets(group, generation: 1, memberId: "nobody", [("orders", 0, 50, nil)]) == [.unknownMemberId])
            #expect(try await a.commitOffsets(group, [("orders", 0, 50, nil)]) == [.unknownMemberId])
            // Unknown topics and partitions are refused one by one; too long metadata too; the rest is committed.
            let mixed = try await a.commitOffsets(group, generation: 1, memberId: aId, [
                ("orders", 0, 60, String(repeating: "m", count: 4097)), ("orders", 1, 61, "ok"), ("orders", 9, 1, nil), ("nope", 0, 1, nil),
            ])
            #expect(mixed == [.offsetMetadataTooLarge, .none, .unknownTopicOrPartition, .unknownTopicOrPartition])
            #expect(try await a.fetchOffsets(group, [("orders", [0, 1])]).map(\.offset) == [42, 61])

            // Older versions: v2 has no leader epoch (stored as -1) and OffsetFetch v1–4 does not return one.
            #expect(try await a.commitOffsets(group, generation: 1, memberId: aId, [("orders", 0, 43, "v2")], leaderEpoch: 9, version: 2) == [.none])
            #expect(try await a.fetchOffsets(group, [("orders", [0])], version: 1).first?.offset == 43)
            #expect(try await broker.committedOffsets(group: group).first?.leaderEpoch == -1)

            // A rebalance starts: commits of the current generation are still accepted in PreparingRebalance.
            let bId = try await b.requestMemberId(group)
            async let bJoined = b.joinGroup(group, memberId: bId)
            _ = try await broker.waitForGroup(group) { $0.member(bId)?.isAwaitingJoin == true }
            #expect(try await a.commitOffsets(group, generation: 1, memberId: aId, [("orders", 0, 44, nil)]) == [.none])
            _ = try await a.joinGroup(group, memberId: aId)
            _ = try await bJoined
            // Generation 2 is announced but not synced (CompletingRebalance): REBALANCE_IN_PROGRESS; the old
            // generation is stale.
            #expect(try await a.commitOffsets(group, generation: 2, memberId: aId, [("orders", 0, 45, nil)]) == [.rebalanceInProgress])
            #expect(try await a.commitOffsets(group, generation: 1, memberId: aId, [("orders", 0, 45, nil)]) == [.illegalGeneration])
            _ = try await a.syncGroup(group, generation: 2, memberId: aId, assignments: [aId: "p0", bId: "p1"])
            #expect(try await b.commitOffsets(group, generation: 2, memberId: bId, [("orders", 1, 70, nil)]) == [.none])

            let stored = try await broker.committedOffsets(group: group)
            #expect(stored.map { "\($0.topic)-\($0.partition)@\($0.offset)" } == ["orders-0@44", "orders-1@70"])
            await a.close()
            await b.close()
        }
    }

    @Test("simple commits (generation -1, no member) create an offsets-only group; unknown groups with a generation are refused")
    func simpleCommits() async throws {
        try await withBroker { broker in
            try broker.createTopic("events", partitions: 3)
            let connection = try await broker.connect()
            #expect(try await connection.commitOffsets("standalone", [("events", 0, 5, "a"), ("events", 2, 9, "b")]) == [.none, .none])
            let snapshot = try #require(try await broker.describeGroup("standalone"))
            #expect(snapshot.state == .empty && snapshot.protocolType == nil && snapshot.members.isEmpty)
            // null topics (v2+): every partition the group committed.
            for version: Int16 in [2, 7, 8] {
                let all = try await connection.fetchOffsets("standalone", nil, version: version)
                #expect(all.map { "\($0.topic)-\($0.partition)@\($0.offset)" } == ["events-0@5", "events-2@9"], "v\(version)")
            }
            // No such group: the offsets are unknown (-1), without an error; a null topic list is empty.
            #expect(try await connection.fetchOffsets("ghost", [("events", [0])]).map(\.offset) == [-1])
            #expect(try await connection.fetchOffsets("ghost", nil).isEmpty)
            // A generation for a group that does not exist: ILLEGAL_GENERATION before v9, GROUP_ID_NOT_FOUND from v9.
            #expect(try await connection.commitOffsets("ghost", generation: 3, memberId: "m", [("events", 0, 1, nil)], version: 8) == [.illegalGeneration])
            #expect(try await connection.commitOffsets("ghost", generation: 3, memberId: "m", [("events", 0, 1, nil)], version: 9) == [.groupIdNotFound])
            #expect(try await broker.describeGroup("ghost") == nil)

            // OffsetFetch v8 with several groups at once.
            var request = OffsetFetchRequest()
            request.groups = [.init(groupId: "standalone", topics: [.init(name: "events", partitionIndexes: [2])]),
                              .init(groupId: "ghost", topics: nil)]
            let response = try await connection.send(request, version: 8)
            #expect(response.groups.map(\.groupId) == ["standalone", "ghost"])
            #expect(response.groups.first?.topics.first?.partitions.first?.committedOffset == 9)
            #expect(response.groups.last?.topics.isEmpty == true)
            await connection.close()
        }
    }

    @Test("committed offsets survive a broker restart with the same data directory, deletions included")
    func offsetsSurviveRestart() async throws {
        try await withTemporaryDirectory("group-offsets") { directory in
            let memberId = try await withBroker({ $0.dataDirectory = directory }) { broker in
                try broker.createTopic("durable", partitions: 2)
                let connection = try await broker.connect()
                let memberId = try await formSingleMemberGroup(connection, group: "consumers")
                #expect(try await connection.commitOffsets("consumers", generation: 1, memberId: memberId,
                                                           [("durable", 0, 10, "m0"), ("durable", 1, 20, nil)], leaderEpoch: 4) == [.none, .none])
                #expect(try await connection.commitOffsets("consumers", generation: 1, memberId: memberId, [("durable", 0, 11, "m0b")]) == [.none])
                #expect(try await connection.commitOffsets("doomed", [("durable", 0, 1, nil)]) == [.none])
                let deleted = try await connection.send(DeleteGroupsRequest(groupsNames: ["doomed"]))
                #expect(deleted.results.map { code($0.errorCode) } == [.none])
                await connection.close()
                return memberId
            }
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let offsets = try await broker.committedOffsets(group: "consumers")
                #expect(offsets.map { "\($0.topic)-\($0.partition)@\($0.offset) \($0.metadata) e\($0.leaderEpoch)" }
                        == ["durable-0@11 m0b e-1", "durable-1@20  e4"])
                #expect(try await broker.committedOffsets(group: "doomed").isEmpty)
                // The group comes back with its member (see GroupPersistenceTests); its offsets are served as before.
                let group = try #require(try await broker.describeGroup("consumers"))
                #expect(group.state == .stable && group.generationId == 1 && group.members.map(\.memberId) == [memberId])
                let connection = try await broker.connect()
                #expect(try await connection.fetchOffsets("consumers", [("durable", [0, 1])]).map(\.offset) == [11, 20])
                // The member commits on top, in its generation.
                #expect(try await connection.commitOffsets("consumers", generation: 1, memberId: memberId, [("durable", 1, 21, nil)]) == [.none])
                await connection.close()
            }
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let offsets = try await broker.committedOffsets(group: "consumers")
                #expect(offsets.map(\.offset) == [11, 21])
            }
        }
    }

    @Test("the offsets log is compacted: repeated commits keep it small, and a restart has the latest of each, deletions included")
    func offsetsLogIsCompacted() async throws {
        try await withTemporaryDirectory("group-offsets-compacted") { directory in
            func smallSegments(_ configuration: inout MockBrokerConfiguration) {
                configuration.dataDirectory = directory
                configuration.offsetsTopicSegmentBytes = 16 * 1024
            }
            try await withBroker(smallSegments) { broker in
                try broker.createTopic("hot", partitions: 4)
                let connection = try await broker.connect()
                // Committed once, before everything else: compaction must keep it.
                #expect(try await connection.commitOffsets("quiet", [("hot", 3, 7, "kept")]) == [.none])
                #expect(try await connection.commitOffsets("doomed", [("hot", 0, 1, nil)]) == [.none])
                let deleted = try await connection.send(DeleteGroupsRequest(groupsNames: ["doomed"]))
                #expect(deleted.results.map { code($0.errorCode) } == [.none])
                // About 140 bytes a commit: some 200 KiB of log without compaction.
                for round in 0..<1500 {
                    #expect(try await connection.commitOffsets("busy", [("hot", Int32(round % 3), Int64(round), nil)]) == [.none])
                }
                await connection.close()
                let size = try offsetsLogBytes(directory)
                #expect(size < 64 * 1024, "the offsets log holds \(size) bytes")
            }
            try await withBroker(smallSegments) { broker in
                let busy = try await broker.committedOffsets(group: "busy")
                #expect(busy.map { "\($0.partition)@\($0.offset)" } == ["0@1497", "1@1498", "2@1499"])
                let quiet = try await broker.committedOffsets(group: "quiet")
                #expect(quiet.map { "\($0.partition)@\($0.offset) \($0.metadata)" } == ["3@7 kept"])
                #expect(try await broker.committedOffsets(group: "doomed").isEmpty)
            }
            let coordinatorFiles = try FileManager.default.contentsOfDirectory(atPath: "\(directory)/group-coordinator")
            #expect(coordinatorFiles == ["__consumer_offsets-0"], "no rewrite left behind")
        }
    }

    @Test("a compaction interrupted between its renames is finished on restart; a half-written one is dropped")
    func interruptedCompaction() async throws {
        try await withTemporaryDirectory("group-offsets-interrupted") { directory in
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                try broker.createTopic("t")
                let connection = try await broker.connect()
                #expect(try await connection.commitOffsets("g", [("t", 0, 42, nil)]) == [.none])
                await connection.close()
            }
            let log = "\(directory)/group-coordinator/__consumer_offsets-0"
            let files = FileManager.default
            // Crashed after retiring the old log, before the rewrite took its place.
            try files.moveItem(atPath: log, toPath: log + ".cleaned")
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let offsets = try await broker.committedOffsets(group: "g")
                #expect(offsets.map(\.offset) == [42])
            }
            // Crashed while writing a rewrite: the log itself is still in place and wins.
            try files.createDirectory(atPath: log + ".cleaned", withIntermediateDirectories: false)
            try Data("torn".utf8).write(to: URL(fileURLWithPath: log + ".cleaned/00000000000000000000.log"))
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let offsets = try await broker.committedOffsets(group: "g")
                #expect(offsets.map(\.offset) == [42])
            }
            #expect(!files.fileExists(atPath: log + ".cleaned"))
        }
    }

    @Test("an offsets log larger than one replay read comes back completely, the last commit of each partition winning")
    func longOffsetsLogReplays() async throws {
        try await withTemporaryDirectory("group-offsets-long") { directory in
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                try broker.createTopic("wide", partitions: 64)
                let connection = try await broker.connect()
                // 6 commits of 64 partitions with 4000-character metadata: about 1.5 MiB of log, more than one
                // read of the replay.
                for round in 0..<6 {
                    let offsets = (0..<64).map { partition in
                        (topic: "wide", partition: Int32(partition), offset: Int64(round * 100 + partition),
                         metadata: Optional(String(repeating: Character(UnicodeScalar(UInt8(65 + round))), count: 4000)))
                    }
                    let errors = try await connection.commitOffsets("wide-group", offsets)
                    #expect(errors.allSatisfy { $0 == .none })
                }
                await connection.close()
            }
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let offsets = try await broker.committedOffsets(group: "wide-group")
                #expect(offsets.count == 64)
                #expect(offsets.map(\.offset) == (0..<64).map { Int64(500 + $0) })
                #expect(offsets.allSatisfy { $0.metadata == String(repeating: "F", count: 4000) })
            }
        }
    }

    @Test("offset retention: offsets of empty groups and offsets-only groups expire, a stable group keeps its subscribed topics'")
    func offsetExpiry() async throws {
        try await withTemporaryDirectory("group-expiry") { directory in
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                try broker.createTopic("subscribed")
                try broker.createTopic("forgotten")
                let active = try await broker.connect(), leaving = try await broker.connect()
                // An offsets-only group.
                #expect(try await active.commitOffsets("simple", [("subscribed", 0, 1, nil)]) == [.none])
                // A group that commits and then empties.
                let leaverId = try await formSingleMemberGroup(leaving, group: "emptied")
                #expect(try await leaving.commitOffsets("emptied", generation: 1, memberId: leaverId, [("subscribed", 0, 2, nil)]) == [.none])
                _ = try await leaving.send(LeaveGroupRequest(groupId: "emptied", memberId: leaverId), version: 1)
                _ = try await broker.waitForGroup("emptied") { $0.state == .empty }
                // A stable consumer group subscribed to "subscribed" (real consumer-protocol metadata), with an
                // offset of a topic it no longer subscribes to.
                let subscription = try ConsumerProtocolSubscription(topics: ["subscribed"]).encodedWithVersionPrefix(version: 1)
                let protocols = [OfferedProtocol("range", bytes: subscription)]
                let activeId = try await formSingleMemberGroup(active, group: "steady", protocols: protocols)
                #expect(try await active.commitOffsets("steady", generation: 1, memberId: activeId,
                                                       [("subscribed", 0, 3, nil), ("forgotten", 0, 4, nil)]) == [.none, .none])

                // Within the retention (7 days by default) nothing expires.
                #expect(try await broker.expireOffsets(now: Date().addingTimeInterval(6 * 24 * 3600)) == 0)
                #expect(try await broker.expireOffsets(now: Date().addingTimeInterval(8 * 24 * 3600)) == 3)
                #expect(try await broker.committedOffsets(group: "simple").isEmpty)
                #expect(try await broker.committedOffsets(group: "emptied").isEmpty)
                #expect(try await broker.committedOffsets(group: "steady").map(\.topic) == ["subscribed"])
                // Empty groups left without offsets are removed.
                #expect(try await broker.groupIds() == ["steady"])
                #expect(try await active.heartbeat("steady", generation: 1, memberId: activeId) == .none)
                await active.close()
                await leaving.close()
            }
            // The expiry was written as tombstones: it holds after a restart.
            try await withBroker({ $0.dataDirectory = directory }) { broker in
                let groups = try await broker.groupIds()
                #expect(groups == ["steady"])
                #expect(try await broker.committedOffsets(group: "steady").map(\.offset) == [3])
            }
        }
    }

    @Test("a short offsets.retention expires an empty group's offsets on the next check")
    func shortRetention() async throws {
        try await withBroker({ $0.offsetsRetention = .milliseconds(100) }) { broker in
            try broker.createTopic("brief")
            let connection = try await broker.connect()
            #expect(try await connection.commitOffsets("fleeting", [("brief", 0, 1, nil)]) == [.none])
            // Deterministic: the check runs as of a moment past the retention instead of waiting for it.
            #expect(try await broker.expireOffsets(now: Date().addingTimeInterval(1)) == 1)
            #expect(try await connection.fetchOffsets("fleeting", [("brief", [0])]).map(\.offset) == [-1])
            await connection.close()
        }
    }

    @Test("OffsetCommit v2–4 with an explicit retention time: the offset expires at its own time")
    func explicitRetention() async throws {
        try await withBroker { broker in
            try broker.createTopic("kept")
            let connection = try await broker.connect()
            #expect(try await connection.commitOffsets("old-client", [("kept", 0, 1, nil)], retentionTimeMs: 60_000, version: 2) == [.none])
            #expect(try await connection.commitOffsets("new-client", [("kept", 0, 2, nil)], version: 5) == [.none])
            #expect(try await broker.expireOffsets(now: Date().addingTimeInterval(30)) == 0)
            #expect(try await broker.expireOffsets(now: Date().addingTimeInterval(120)) == 1)
            #expect(try await broker.groupIds() == ["new-client"])
            await connection.close()
        }
    }

    @Test("a commit too large for one batch of the offsets log (message.max.bytes) gets INVALID_COMMIT_OFFSET_SIZE")
    func commitTooLarge() async throws {
        try await withBroker({ $0.log.maxMessageBytes = 4000 }) { broker in
            try broker.createTopic("big", partitions: 3)
            let connection = try await broker.connect()
            let metadata = String(repeating: "x", count: 2000)
            let errors = try await connection.commitOffsets("big-group", [("big", 0, 1, metadata), ("big", 1, 1, metadata), ("big", 2, 1, metadata)])
            #expect(errors == [.invalidCommitOffsetSize, .invalidCommitOffsetSize, .invalidCommitOffsetSize])
            #expect(try await broker.committedOffsets(group: "big-group").isEmpty)
            #expect(try await connection.commitOffsets("big-group", [("big", 0, 1, "small")]) == [.none])
            await connection.close()
        }
    }
}
