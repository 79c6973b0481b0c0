import KafkaProtocol
import NIOCore

/// The group APIs: each turns its request into a call on the ``GroupCoordinator`` (whose event loop owns every
/// group) and shapes the answer for the request's version.
struct GroupHandlers: Sendable {
    let state: BrokerState

    private var coordinator: GroupCoordinator { state.groups }

    /// An error fault injected for this API and group (see ``Fault``), or, in a cluster, NOT_COORDINATOR when
    /// another broker leads the group's offsets partition and COORDINATOR_LOAD_IN_PROGRESS while this one loads it.
    private func injected(_ api: ApiKey, _ group: String) -> KafkaErrorCode? {
        if let code = state.faults.groupError(api: api, group: group) { return code }
        guard !state.cluster.isLoneBroker else { return nil }
        if state.coordinator(of: group) != state.nodeId { return .notCoordinator }
        if !coordinator.isLoaded(coordinator.offsetsPartition(group)) { return .coordinatorLoadInProgress }
        return nil
    }

    // MARK: - Membership

    func joinGroup(_ request: JoinGroupRequest, context: RequestContext) -> EventLoopFuture<JoinGroupResponse?> {
        let version = context.apiVersion
        if let code = injected(.joinGroup, request.groupId) {
            var response = JoinGroupResponse(errorCode: code.rawValue, generationId: -1, memberId: request.memberId)
            response.protocolName = version >= 7 ? nil : ""
            return context.eventLoop.makeSucceededFuture(response)
        }
        let parameters = GroupCoordinator.JoinParameters(
            groupId: request.groupId,
            memberId: request.memberId,
            groupInstanceId: version >= 5 ? request.groupInstanceId : nil,
            clientId: context.clientId ?? "",
            clientHost: context.clientHost,
            sessionTimeoutMs: request.sessionTimeoutMs,
            // v0 has no rebalance timeout: the session timeout serves for both.
            rebalanceTimeoutMs: version == 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
            protocolType: request.protocolType,
            protocols: request.protocols,
            requireKnownMemberId: version >= 4 && request.groupInstanceId == nil,
            supportsSkippingAssignment: version >= 9
        )
        return coordinator.joinGroup(parameters).map { outcome in
            var response = JoinGroupResponse(
                errorCode: outcome.error.rawValue,
                generationId: outcome.generationId,
                protocolType: outcome.protocolType,
                leader: outcome.leaderId,
                skipAssignment: outcome.skipAssignment,
                memberId: outcome.memberId,
                members: outcome.members
            )
            // Nullable from v7, where Kafka sends null rather than an empty name; before, an empty string.
            if version >= 7 {
                response.protocolName = outcome.protocolName.flatMap { $0.isEmpty ? nil : $0 }
            } else {
                response.protocolName = outcome.protocolName ?? ""
            }
            return response
        }
    }

    func syncGroup(_ request: SyncGroupRequest, context: RequestContext) -> EventLoopFuture<SyncGroupResponse?> {
        let version = context.apiVersion
        if let code = injected(.syncGroup, request.groupId) {
            return context.eventLoop.makeSucceededFuture(SyncGroupResponse(errorCode: code.rawValue))
        }
        let parameters = GroupCoordinator.SyncParameters(
            groupId: request.groupId,
            generationId: request.generationId,
            memberId: request.memberId,
            groupInstanceId: version >= 3 ? request.groupInstanceId : nil,
            protocolType: version >= 5 ? request.protocolType : nil,
            protocolName: version >= 5 ? request.protocolName : nil,
            assignments: request.assignments.map { ($0.memberId, $0.assignment) }
        )
        // The assignment is answered once the group's metadata is on the offsets partition's in-sync replicas.
        return coordinator.syncGroup(parameters).flatMap { outcome in
            state.groupWritesReplicated(request.groupId, eventLoop: context.eventLoop).map { replicated in
                SyncGroupResponse(errorCode: (outcome.error == .none ? replicated : outcome.error).rawValue,
                                  protocolType: outcome.protocolType, protocolName: outcome.protocolName,
                                  assignment: replicated == .none ? outcome.assignment : ByteBuffer())
            }
        }
    }

    func heartbeat(_ request: HeartbeatRequest, context: RequestContext) -> EventLoopFuture<HeartbeatResponse?> {
        if let code = injected(.heartbeat, request.groupId) {
            return context.eventLoop.makeSucceededFuture(HeartbeatResponse(errorCode: code.rawValue))
        }
        return coordinator.heartbeat(groupId: request.groupId, memberId: request.memberId,
                              groupInstanceId: context.apiVersion >= 3 ? request.groupInstanceId : nil,
                              generationId: request.generationId)
            .map { HeartbeatResponse(errorCode: $0.rawValue) }
    }

    func leaveGroup(_ request: LeaveGroupRequest, context: RequestContext) -> EventLoopFuture<LeaveGroupResponse?> {
        let version = context.apiVersion
        if let code = injected(.leaveGroup, request.groupId) {
            return context.eventLoop.makeSucceededFuture(LeaveGroupResponse(errorCode: code.rawValue))
        }
        let leaving: [(memberId: String, groupInstanceId: String?)] = version >= 3
            ? request.members.map { ($0.memberId, $0.groupInstanceId) }
            : [(request.memberId, nil)]
        return coordinator.leaveGroup(groupId: request.groupId, members: leaving).map { groupError, memberErrors in
            var response = LeaveGroupResponse(errorCode: groupError.rawValue)
            if version >= 3 {
                response.members = zip(leaving, memberErrors).map { member, error in
                    .init(memberId: member.memberId, groupInstanceId: member.groupInstanceId, errorCode: error.rawValue)
                }
            } else if groupError == .none, let first = memberErrors.first(where: { $0 != .none }) {
                // Versions without a member list report the member's error as the request's.
                response.errorCode = first.rawValue
            }
            return response
        }
    }

    // MARK: - Offsets

    func offsetCommit(_ request: OffsetCommitRequest, context: RequestContext) -> EventLoopFuture<OffsetCommitResponse?> {
        let version = context.apiVersion
        let entries = request.topics.flatMap { topic in
            topic.partitions.map { partition in
                GroupCoordinator.CommitEntry(topic: topic.name, partition: partition.partitionIndex,
                                             offset: partition.committedOffset,
                                             leaderEpoch: version >= 6 ? partition.committedLeaderEpoch : -1,
                                             metadata: partition.committedMetadata)
            }
        }
        let parameters = GroupCoordinator.CommitParameters(
            groupId: request.groupId, generationId: request.generationIdOrMemberEpoch, memberId: request.memberId,
            groupInstanceId: version >= 7 ? request.groupInstanceId : nil,
            retentionTimeMs: version <= 4 ? request.retentionTimeMs : -1, entries: entries, version: version)
        let answered: EventLoopFuture<[KafkaErrorCode]> = if let code = injected(.offsetCommit, request.groupId) {
            context.eventLoop.makeSucceededFuture(Array(repeating: code, count: entries.count))
        } else {
            // A commit is acknowledged once it is on the offsets partition's in-sync replicas.
            coordinator.commitOffsets(parameters).flatMap { errors in
                state.groupWritesReplicated(request.groupId, eventLoop: context.eventLoop).map { replicated in
                    replicated == .none ? errors : errors.map { $0 == .none ? replicated : $0 }
                }
            }
        }
        return answered.map { errors in
            var response = OffsetCommitResponse()
            var index = 0
            for topic in request.topics {
                var answer = OffsetCommitResponse.OffsetCommitResponseTopic()
                answer.name = topic.name
                for partition in topic.partitions {
                    var result = OffsetCommitResponse.OffsetCommitResponsePartition()
                    result.partitionIndex = partition.partitionIndex
                    result.errorCode = errors[index].rawValue
                    answer.partitions.append(result)
                    index += 1
                }
                response.topics.append(answer)
            }
            return response
        }
    }

    func offsetFetch(_ request: OffsetFetchRequest, context: RequestContext) -> EventLoopFuture<OffsetFetchResponse?> {
        let version = context.apiVersion
        typealias Wanted = (groupId: String, topics: [(name: String, partitions: [Int32])]?)
        let wanted: [Wanted] = version >= 8
            ? request.groups.map { group in (group.groupId, group.topics.map { $0.map { ($0.name, $0.partitionIndexes) } }) }
            : [(request.groupId, request.topics.map { $0.map { ($0.name, $0.partitionIndexes) } })]
        // requireStable (v7+) needs no waiting: there are no transactional offsets here.
        return coordinator.fetchOffsets(wanted).map { fetched in
            let fetched = fetched.map { group in
                guard let code = injected(.offsetFetch, group.groupId) else { return group }
                return GroupCoordinator.FetchedGroup(groupId: group.groupId, error: code)
            }
            var response = OffsetFetchResponse()
            if version >= 8 {
                response.groups = fetched.map { group in
                    var answer = OffsetFetchResponse.OffsetFetchResponseGroup()
                    answer.groupId = group.groupId
                    answer.errorCode = group.error.rawValue
                    answer.topics = group.topics.map { topic in
                        var topicAnswer = OffsetFetchResponse.OffsetFetchResponseTopics()
                        topicAnswer.name = topic.name
                        topicAnswer.partitions = topic.partitions.map { partition in
                            var result = OffsetFetchResponse.OffsetFetchResponsePartitions()
                            result.partitionIndex = partition.partition
                            result.committedOffset = partition.offset?.offset ?? -1
                            result.committedLeaderEpoch = partition.offset?.leaderEpoch ?? -1
                            result.metadata = partition.offset?.metadata ?? ""
                            result.errorCode = group.error == .none ? 0 : group.error.rawValue
                            return result
                        }
                        return topicAnswer
                    }
                    return answer
                }
            } else if let group = fetched.first {
                response.errorCode = group.error.rawValue
                response.topics = group.topics.map { topic in
                    var topicAnswer = OffsetFetchResponse.OffsetFetchResponseTopic()
                    topicAnswer.name = topic.name
                    topicAnswer.partitions = topic.partitions.map { partition in
                        var result = OffsetFetchResponse.OffsetFetchResponsePartition()
                        result.partitionIndex = partition.partition
                        result.committedOffset = partition.offset?.offset ?? -1
                        result.committedLeaderEpoch = partition.offset?.leaderEpoch ?? -1
                        result.metadata = partition.offset?.metadata ?? ""
                        // v1 has no request-level error: the group's error goes on every partition.
                        result.errorCode = group.error.rawValue
                        return result
                    }
                    return topicAnswer
                }
            }
            return response
        }
    }

    // MARK: - Administration

    func describeGroups(_ request: DescribeGroupsRequest, context: RequestContext) -> EventLoopFuture<DescribeGroupsResponse?> {
        coordinator.describeGroups(request.groups, includeAuthorizedOperations: context.apiVersion >= 3 && request.includeAuthorizedOperations)
            .map { DescribeGroupsResponse(groups: $0) }
    }

    func listGroups(_ request: ListGroupsRequest, context: RequestContext) -> EventLoopFuture<ListGroupsResponse?> {
        let version = context.apiVersion
        return coordinator.listGroups(statesFilter: version >= 4 ? request.statesFilter : [],
                                      typesFilter: version >= 5 ? request.typesFilter : [])
            .map { ListGroupsResponse(errorCode: 0, groups: $0) }
    }

    func deleteGroups(_ request: DeleteGroupsRequest, context: RequestContext) -> EventLoopFuture<DeleteGroupsResponse?> {
        coordinator.deleteGroups(request.groupsNames).map { errors in
            DeleteGroupsResponse(results: zip(request.groupsNames, errors).map { .init(groupId: $0, errorCode: $1.rawValue) })
        }
    }
}

extension RequestContext {
    /// The client's address as Kafka reports it in DescribeGroups: `/` and the IP address.
    var clientHost: String {
        remoteAddress?.ipAddress.map { "/\($0)" } ?? ""
    }
}
