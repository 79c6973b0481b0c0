import KafkaProtocol
import NIOCore

/// Consumer groups: list, describe, delete; their committed offsets (list, alter, reset, delete) and lag.
extension KafkaAdmin {
    /// Every group of the cluster (each broker lists the groups it coordinates), by id, each once.
    public func listGroups() async throws(KafkaAdminError) -> [GroupListing] {
        var listed: [Int32: [GroupListing]] = [:]
        return try await retrying("ListGroups") { deadline in
            let brokers = try await cluster.topicMetadata([]).brokers.map(\.nodeId).sorted()
            for node in brokers where listed[node] == nil {
                let connection = try await brokerConnection(node)
                let response = try await send(ListGroupsRequest(), to: connection, before: deadline)
                let code = KafkaErrorCode(rawValue: response.errorCode)
                if code.isError { throw KafkaAdminError.broker(code, context: "list groups at broker \(node)") }
                listed[node] = response.groups.map {
                    GroupListing(groupId: $0.groupId, protocolType: $0.protocolType, state: $0.groupState,
                                 type: $0.groupType, coordinator: node)
                }
            }
            // A group whose coordinator moved may be listed by its old and its new coordinator for a moment: once.
            var seen: Set<String> = []
            return listed.sorted { $0.key < $1.key }.flatMap(\.value).filter { seen.insert($0.groupId).inserted }
                .sorted { $0.groupId < $1.groupId }
        }
    }

    /// Each group's state, protocol and members with their assignments, in the order asked. A group that does not
    /// exist is described as `Dead` with no members, as Kafka does.
    public func describeGroups(_ groupIds: [String]) async throws(KafkaAdminError) -> [GroupDescription] {
        var described: [String: GroupDescription] = [:]
        for groupId in groupIds where described[groupId] == nil {
            described[groupId] = try await retrying("DescribeGroups \(groupId)") { deadline in
                try await onCoordinator(of: groupId) { connection, node in
                    let response = try await send(DescribeGroupsRequest(groups: [groupId]), to: connection, before: deadline)
                    guard let group = response.groups.first(where: { $0.groupId == groupId }) else {
                        throw KafkaAdminError.broker(.unknownServerError, context: "describe group \(groupId): not in the answer")
                    }
                    let code = KafkaErrorCode(rawValue: group.errorCode)
                    if code.isError { throw KafkaAdminError.broker(code, context: "describe group \(groupId)") }
                    return GroupDescription(
                        groupId: groupId, state: group.groupState, protocolType: group.protocolType,
                        assignor: group.protocolData,
                        members: group.members.map { member in
                            .init(memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                                  host: member.clientHost,
                                  assignment: group.protocolType == "consumer" ? Self.partitions(in: member.memberAssignment) : [])
                        },
                        coordinator: node)
                }
            }
        }
        return groupIds.compactMap { described[$0] }
    }

    /// The partitions of a consumer-protocol assignment; none when it is empty or does not parse.
    private static func partitions(in assignment: ByteBuffer) -> [TopicPartition] {
        guard assignment.readableBytes > 0,
              let decoded = try? ConsumerProtocolAssignment(decodingWithVersionPrefix: assignment) else { return [] }
        return decoded.assignedPartitions.flatMap { topic in
            topic.partitions.map { TopicPartition(topic: topic.topic, partition: $0) }
        }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// Deletes groups with their committed offsets. A group with members is NON_EMPTY_GROUP; an unknown one
    /// GROUP_ID_NOT_FOUND.
    public func deleteGroups(_ groupIds: [String]) async throws(KafkaAdminError) {
        for groupId in Set(groupIds).sorted() {
            try await retrying("DeleteGroups \(groupId)") { deadline in
                try await onCoordinator(of: groupId) { connection, _ in
                    let response = try await send(DeleteGroupsRequest(groupsNames: [groupId]), to: connection, before: deadline)
                    let code = response.results.first { $0.groupId == groupId }.map { KafkaErrorCode(rawValue: $0.errorCode) }
                        ?? .unknownServerError
                    if code.isError { throw KafkaAdminError.broker(code, context: "delete group \(groupId)") }
                }
            }
        }
    }

    // MARK: - Offsets

    /// The group's committed offsets: of `partitions`, or of every partition it committed when nil. Partitions
    /// without a committed offset are left out.
    public func listGroupOffsets(_ groupId: String,
                                 partitions: [TopicPartition]? = nil) async throws(KafkaAdminError) -> [TopicPartition: OffsetAndMetadata] {
        try await retrying("OffsetFetch \(groupId)") { deadline in
            try await onCoordinator(of: groupId) { connection, _ in
                let topics = partitions?.byTopic
                // v8+ asks for several groups at once; earlier versions for one.
                let grouped = try connection.version(for: OffsetFetchRequest.self) >= 8
                let request = grouped
                    ? OffsetFetchRequest(groups: [.init(groupId: groupId, topics: topics?.map { .init(name: $0.topic, partitionIndexes: $0.partitions) })])
                    : OffsetFetchRequest(groupId: groupId, topics: topics?.map { .init(name: $0.topic, partitionIndexes: $0.partitions) })
                let response = try await send(request, to: connection, before: deadline)
                let (groupCode, answered): (Int16, [(String, Int32, Int64, Int32, String?, Int16)])
                if grouped {
                    let group = response.groups.first { $0.groupId == groupId }
                    groupCode = group?.errorCode ?? KafkaErrorCode.unknownServerError.rawValue
                    answered = (group?.topics ?? []).flatMap { topic in
                        topic.partitions.map { (topic.name, $0.partitionIndex, $0.committedOffset, $0.committedLeaderEpoch, $0.metadata, $0.errorCode) }
                    }
                } else {
                    groupCode = response.errorCode
                    answered = response.topics.flatMap { topic in
                        topic.partitions.map { (topic.name, $0.partitionIndex, $0.committedOffset, $0.committedLeaderEpoch, $0.metadata, $0.errorCode) }
                    }
                }
                if groupCode != 0 { throw KafkaAdminError.broker(KafkaErrorCode(rawValue: groupCode), context: "list offsets of group \(groupId)") }
                var offsets: [TopicPartition: OffsetAndMetadata] = [:]
                for (topic, partition, offset, epoch, metadata, code) in answered {
                    let key = TopicPartition(topic: topic, partition: partition)
                    if code != 0 { throw KafkaAdminError.broker(KafkaErrorCode(rawValue: code), context: "list offsets of group \(groupId), \(key)") }
                    guard offset >= 0 else { continue }
                    offsets[key] = OffsetAndMetadata(offset: offset, leaderEpoch: epoch >= 0 ? epoch : nil,
                                                     metadata: metadata.flatMap { $0.isEmpty ? nil : $0 })
                }
                return offsets
            }
        }
    }

    /// Commits `offsets` for the group, as a client outside group management does. The group must have no active
    /// members (Kafka refuses with UNKNOWN_MEMBER_ID otherwise): stop its consumers first.
    public func alterGroupOffsets(_ groupId: String, _ offsets: [TopicPartition: OffsetAndMetadata]) async throws(KafkaAdminError) {
        var done: Set<TopicPartition> = []
        try await retrying("OffsetCommit \(groupId)") { deadline in
            try await onCoordinator(of: groupId) { connection, _ in
                let pending = offsets.filter { !done.contains($0.key) }
                let request = OffsetCommitRequest(
                    groupId: groupId, generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil,
                    topics: pending.keys.byTopic.map { topic in
                        .init(name: topic.topic, partitions: topic.partitions.map { partition in
                            let offset = pending[TopicPartition(topic: topic.topic, partition: partition)]!
                            return .init(partitionIndex: partition, committedOffset: offset.offset,
                                         committedLeaderEpoch: offset.leaderEpoch ?? -1, committedMetadata: offset.metadata)
                        })
                    })
                let response = try await send(request, to: connection, before: deadline)
                var retriable: KafkaAdminError?
                for topic in response.topics {
                    for partition in topic.partitions {
                        let key = TopicPartition(topic: topic.name, partition: partition.partitionIndex)
                        let code = KafkaErrorCode(rawValue: partition.errorCode)
                        guard code.isError else {
                            done.insert(key)
                            continue
                        }
                        let error = KafkaAdminError.broker(code, context: code == .unknownMemberId
                            ? "alter offsets of group \(groupId), \(key) (the group has active members: stop them first)"
                            : "alter offsets of group \(groupId), \(key)")
                        guard error.isRetriable else { throw error }
                        retriable = error
                    }
                }
                if let retriable { throw retriable }
            }
        }
    }

    /// Moves the group's committed offsets of `partitions` to the earliest or latest offset, or to the first
    /// offset at or after a time (the log end where no record is that recent, as `kafka-consumer-groups
    /// --to-datetime` does), and returns the new offsets. The group must have no active members.
    @discardableResult
    public func resetGroupOffsets(_ groupId: String, partitions: [TopicPartition],
                                  to spec: OffsetSpec) async throws(KafkaAdminError) -> [TopicPartition: Int64] {
        let wanted = Set(partitions)
        var targets = try await listOffsets(Dictionary(uniqueKeysWithValues: wanted.map { ($0, spec) })).mapValues(\.offset)
        let pastTheEnd = wanted.filter { targets[$0] == nil }
        if !pastTheEnd.isEmpty {
            let ends = try await listOffsets(Dictionary(pastTheEnd.map { ($0, OffsetSpec.latest) }, uniquingKeysWith: { first, _ in first }))
            for (partition, end) in ends { targets[partition] = end.offset }
        }
        try await alterGroupOffsets(groupId, targets.mapValues { OffsetAndMetadata(offset: $0) })
        return targets
    }

    /// ``resetGroupOffsets(_:partitions:to:)`` for every partition of `topic`.
    @discardableResult
    public func resetGroupOffsets(_ groupId: String, topic: String,
                                  to spec: OffsetSpec) async throws(KafkaAdminError) -> [TopicPartition: Int64] {
        let partitions = try await describeTopics([topic]).flatMap { description in
            description.partitions.map { TopicPartition(topic: description.name, partition: $0.partition) }
        }
        return try await resetGroupOffsets(groupId, partitions: partitions, to: spec)
    }

    /// Deletes the group's committed offsets of `partitions` (OffsetDelete). Kafka refuses
    /// (GROUP_SUBSCRIBED_TO_TOPIC) for topics the group's active members subscribe to.
    public func deleteGroupOffsets(_ groupId: String, partitions: [TopicPartition]) async throws(KafkaAdminError) {
        try await retrying("OffsetDelete \(groupId)") { deadline in
            try await onCoordinator(of: groupId) { connection, _ in
                let request = OffsetDeleteRequest(groupId: groupId, topics: partitions.byTopic.map { topic in
                    .init(name: topic.topic, partitions: topic.partitions.map { .init(partitionIndex: $0) })
                })
                let response = try await send(request, to: connection, before: deadline)
                let code = KafkaErrorCode(rawValue: response.errorCode)
                if code.isError { throw KafkaAdminError.broker(code, context: "delete offsets of group \(groupId)") }
                for topic in response.topics {
                    for partition in topic.partitions where partition.errorCode != 0 {
                        throw KafkaAdminError.broker(KafkaErrorCode(rawValue: partition.errorCode),
                                                     context: "delete offsets of group \(groupId), \(topic.name)-\(partition.partitionIndex)")
                    }
                }
            }
        }
    }

    /// How far the group is behind on each partition it has committed or is assigned: committed offset, log end
    /// offset and their difference, with the member that has the partition, sorted by topic and partition. A
    /// group that does not exist is GROUP_ID_NOT_FOUND.
    public func groupLag(_ groupId: String) async throws(KafkaAdminError) -> [PartitionLag] {
        let description = try await describeGroups([groupId]).first
        let committed = try await listGroupOffsets(groupId)
        var owners: [TopicPartition: GroupDescription.Member] = [:]
        for member in description?.members ?? [] {
            for partition in member.assignment { owners[partition] = member }
        }
        let partitions = Set(committed.keys).union(owners.keys)
        if partitions.isEmpty && (description?.state ?? "Dead") == "Dead" {
            throw .broker(.groupIdNotFound, context: "group \(groupId)")
        }
        let ends = partitions.isEmpty ? [:] : try await listOffsets(Dictionary(uniqueKeysWithValues: partitions.map { ($0, .latest) }))
        return partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }.map { partition in
            PartitionLag(topic: partition.topic, partition: partition.partition, committed: committed[partition]?.offset,
                         endOffset: ends[partition]?.offset ?? -1, memberId: owners[partition]?.memberId,
                         clientId: owners[partition]?.clientId)
        }
    }
}
