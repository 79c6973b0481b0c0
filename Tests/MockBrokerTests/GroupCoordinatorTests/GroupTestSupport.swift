import Foundation
import KafkaClient
import KafkaProtocol
import KafkaTestSupport
import MockBroker
import NIOCore
import Testing

/// A group protocol a test member offers: its name and metadata bytes (text, for readable assertions).
struct OfferedProtocol: Sendable {
    var name: String
    var metadata: ByteBuffer

    init(_ name: String, _ metadata: String = "") {
        self.name = name
        self.metadata = ByteBuffer(string: metadata.isEmpty ? "meta-\(name)" : metadata)
    }

    init(_ name: String, bytes: ByteBuffer) {
        self.name = name
        metadata = bytes
    }
}

struct GroupTestFailure: Error, CustomStringConvertible {
    var description: String
}

func code(_ raw: Int16) -> KafkaErrorCode { KafkaErrorCode(rawValue: raw) }

/// Raw group requests over one connection (one member per connection: a JoinGroup that waits for a rebalance
/// holds its connection, as with Kafka).
extension BrokerConnection {
    func joinGroup(_ group: String, memberId: String = "", instanceId: String? = nil,
                   protocols: [OfferedProtocol] = [OfferedProtocol("range")], protocolType: String = "consumer",
                   sessionTimeoutMs: Int32 = 10_000, rebalanceTimeoutMs: Int32 = 10_000,
                   version: Int16? = nil) async throws -> JoinGroupResponse {
        let request = JoinGroupRequest(
            groupId: group, sessionTimeoutMs: sessionTimeoutMs, rebalanceTimeoutMs: rebalanceTimeoutMs,
            memberId: memberId, groupInstanceId: instanceId, protocolType: protocolType,
            protocols: protocols.map { .init(name: $0.name, metadata: $0.metadata) })
        return try await send(request, version: version)
    }

    /// The first step of a v4+ dynamic join: the broker answers MEMBER_ID_REQUIRED with the member's id.
    func requestMemberId(_ group: String, protocols: [OfferedProtocol] = [OfferedProtocol("range")],
                         sessionTimeoutMs: Int32 = 10_000, rebalanceTimeoutMs: Int32 = 10_000,
                         version: Int16? = nil) async throws -> String {
        let response = try await joinGroup(group, protocols: protocols, sessionTimeoutMs: sessionTimeoutMs,
                                           rebalanceTimeoutMs: rebalanceTimeoutMs, version: version)
        #expect(code(response.errorCode) == .memberIdRequired)
        #expect(response.generationId == -1)
        #expect(!response.memberId.isEmpty)
        return response.memberId
    }

    func syncGroup(_ group: String, generation: Int32, memberId: String, instanceId: String? = nil,
                   assignments: [String: String] = [:], protocolType: String? = nil, protocolName: String? = nil,
                   version: Int16? = nil) async throws -> SyncGroupResponse {
        let request = SyncGroupRequest(
            groupId: group, generationId: generation, memberId: memberId, groupInstanceId: instanceId,
            protocolType: protocolType, protocolName: protocolName,
            assignments: assignments.sorted { $0.key < $1.key }.map { .init(memberId: $0.key, assignment: ByteBuffer(string: $0.value)) })
        return try await send(request, version: version)
    }

    func heartbeat(_ group: String, generation: Int32, memberId: String, instanceId: String? = nil,
                   version: Int16? = nil) async throws -> KafkaErrorCode {
        let response = try await send(HeartbeatRequest(groupId: group, generationId: generation, memberId: memberId,
                                                       groupInstanceId: instanceId), version: version)
        return code(response.errorCode)
    }

    func commitOffsets(_ group: String, generation: Int32 = -1, memberId: String = "", instanceId: String? = nil,
                       _ offsets: [(topic: String, partition: Int32, offset: Int64, metadata: String?)],
                       leaderEpoch: Int32 = -1, retentionTimeMs: Int64 = -1,
                       version: Int16? = nil) async throws -> [KafkaErrorCode] {
        var topics: [OffsetCommitRequest.OffsetCommitRequestTopic] = []
        for entry in offsets {
            var partition = OffsetCommitRequest.OffsetCommitRequestPartition()
            partition.partitionIndex = entry.partition
            partition.committedOffset = entry.offset
            partition.committedLeaderEpoch = leaderEpoch
            partition.committedMetadata = entry.metadata
            if let index = topics.firstIndex(where: { $0.name == entry.topic }) {
                topics[index].partitions.append(partition)
            } else {
                var topic = OffsetCommitRequest.OffsetCommitRequestTopic()
                topic.name = entry.topic
                topic.partitions = [partition]
                topics.append(topic)
            }
        }
        var request = OffsetCommitRequest()
        request.groupId = group
        request.generationIdOrMemberEpoch = generation
        request.memberId = memberId
        request.groupInstanceId = instanceId
        request.retentionTimeMs = retentionTimeMs
        request.topics = topics
        let response = try await send(request, version: version)
        // Back in the order asked for.
        return offsets.map { entry in
            let topic = response.topics.first { $0.name == entry.topic }
            return code(topic?.partitions.first { $0.partitionIndex == entry.partition }?.errorCode ?? -1)
        }
    }

    /// OffsetFetch of one group (v1–7 layout, or v8+ with one group); `topics` nil asks for all (v2+).
    func fetchOffsets(_ group: String, _ topics: [(String, [Int32])]?, version: Int16? = nil) async throws -> [FetchedOffset] {
        let version = try version ?? self.version(for: OffsetFetchRequest.self)
        var request = OffsetFetchRequest()
        if version >= 8 {
            var wanted = OffsetFetchRequest.OffsetFetchRequestGroup()
            wanted.groupId = group
            wanted.topics = topics?.map { .init(name: $0.0, partitionIndexes: $0.1) }
            request.groups = [wanted]
        } else {
            request.groupId = group
            request.topics = topics?.map { .init(name: $0.0, partitionIndexes: $0.1) }
        }
        let response = try await send(request, version: version)
        if version >= 8 {
            let answer = try #require(response.groups.first)
            #expect(answer.groupId == group)
            return answer.topics.flatMap { topic in
                topic.partitions.map {
                    FetchedOffset(topic: topic.name, partition: $0.partitionIndex, offset: $0.committedOffset,
                                  leaderEpoch: $0.committedLeaderEpoch, metadata: $0.metadata, error: code($0.errorCode))
                }
            }
        }
        return response.topics.flatMap { topic in
            topic.partitions.map {
                FetchedOffset(topic: topic.name, partition: $0.partitionIndex, offset: $0.committedOffset,
                              leaderEpoch: $0.committedLeaderEpoch, metadata: $0.metadata, error: code($0.errorCode))
            }
        }
    }
}

struct FetchedOffset: Equatable, CustomStringConvertible {
    var topic: String
    var partition: Int32
    var offset: Int64
    var leaderEpoch: Int32
    var metadata: String?
    var error: KafkaErrorCode

    var description: String { "\(topic)-\(partition)@\(offset) epoch \(leaderEpoch) \(metadata ?? "null") \(error.name)" }
}

extension MockBroker {
    /// Polls the coordinator until `condition` holds for the group (a safety bound of about 15 s, never a timing
    /// assertion): the way tests wait for a JoinGroup to be parked or a rebalance to start.
    func waitForGroup(_ group: String, sourceLocation: SourceLocation = #_sourceLocation,
                      _ condition: (GroupSnapshot) -> Bool) async throws -> GroupSnapshot {
        var last: GroupSnapshot?
        for _ in 0..<600 {
            last = try await describeGroup(group)
            if let last, condition(last) { return last }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("group \(group) never reached the expected state; last seen: \(String(describing: last))",
                     sourceLocation: sourceLocation)
        throw GroupTestFailure(description: "timed out waiting for group \(group)")
    }
}

extension ByteBuffer {
    var text: String { String(buffer: self) }
}

/// A group of one member in generation 1 (MEMBER_ID_REQUIRED, join, sync): its member id.
func formSingleMemberGroup(_ connection: BrokerConnection, group: String, protocols: [OfferedProtocol] = [OfferedProtocol("range")],
                           sessionTimeoutMs: Int32 = 10_000, rebalanceTimeoutMs: Int32 = 10_000,
                           assignment: String = "assignment") async throws -> String {
    let memberId = try await connection.requestMemberId(group, protocols: protocols, sessionTimeoutMs: sessionTimeoutMs,
                                                        rebalanceTimeoutMs: rebalanceTimeoutMs)
    let joined = try await connection.joinGroup(group, memberId: memberId, protocols: protocols,
                                                sessionTimeoutMs: sessionTimeoutMs, rebalanceTimeoutMs: rebalanceTimeoutMs)
    #expect(code(joined.errorCode) == .none)
    #expect(joined.generationId == 1 && joined.leader == memberId)
    let synced = try await connection.syncGroup(group, generation: 1, memberId: memberId, assignments: [memberId: assignment])
    #expect(code(synced.errorCode) == .none && synced.assignment.text == assignment)
    return memberId
}

/// Two members in generation 2, deterministically: A forms generation 1 alone; B's join starts a rebalance and
/// waits; A learns of it from a heartbeat and rejoins; both get generation 2 with A as leader. Neither has synced
/// generation 2 yet. Returns the member ids.
func formTwoMemberGroup(_ broker: MockBroker, _ a: BrokerConnection, _ b: BrokerConnection, group: String,
                        sessionTimeoutMs: (a: Int32, b: Int32) = (10_000, 10_000),
                        rebalanceTimeoutMs: (a: Int32, b: Int32) = (10_000, 10_000)) async throws
    -> (a: String, b: String, aJoin: JoinGroupResponse, bJoin: JoinGroupResponse) {
    let aId = try await formSingleMemberGroup(a, group: group, sessionTimeoutMs: sessionTimeoutMs.a,
                                              rebalanceTimeoutMs: rebalanceTimeoutMs.a)
    let bId = try await b.requestMemberId(group, sessionTimeoutMs: sessionTimeoutMs.b, rebalanceTimeoutMs: rebalanceTimeoutMs.b)
    async let bJoined = b.joinGroup(group, memberId: bId, sessionTimeoutMs: sessionTimeoutMs.b,
                                    rebalanceTimeoutMs: rebalanceTimeoutMs.b)
    _ = try await broker.waitForGroup(group) { $0.state == .preparingRebalance && $0.member(bId)?.isAwaitingJoin == true }
    #expect(try await a.heartbeat(group, generation: 1, memberId: aId) == .rebalanceInProgress)
    let aJoin = try await a.joinGroup(group, memberId: aId, sessionTimeoutMs: sessionTimeoutMs.a,
                                      rebalanceTimeoutMs: rebalanceTimeoutMs.a)
    let bJoin = try await bJoined
    #expect(code(aJoin.errorCode) == .none && code(bJoin.errorCode) == .none)
    #expect(aJoin.generationId == 2 && bJoin.generationId == 2)
    #expect(aJoin.leader == aId && bJoin.leader == aId)
    return (aId, bId, aJoin, bJoin)
}


/// Bytes of the committed-offsets log's segment files under a broker's data directory.
func offsetsLogBytes(_ dataDirectory: String) throws -> Int {
    let log = "\(dataDirectory)/group-coordinator/__consumer_offsets-0"
    return try FileManager.default.contentsOfDirectory(atPath: log).filter { $0.hasSuffix(".log") }.reduce(0) { total, name in
        total + ((try FileManager.default.attributesOfItem(atPath: "\(log)/\(name)")[.size] as? Int) ?? 0)
    }
}
