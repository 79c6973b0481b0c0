import KafkaProtocol
import NIOCore

/// Offsets (commit, fetch, expiry) and the administrative group APIs (describe, list, delete).
extension GroupCoordinator {
    // MARK: - OffsetCommit

    struct CommitEntry: Sendable {
        var topic: String
        var partition: Int32
        var offset: Int64
        var leaderEpoch: Int32
        var metadata: String?
    }

    struct CommitParameters: Sendable {
        var groupId: String
        var generationId: Int32
        var memberId: String
        var groupInstanceId: String?
        /// v2–4: an explicit retention for these offsets; -1 uses the broker's rules.
        var retentionTimeMs: Int64
        var entries: [CommitEntry]
        var version: Int16
    }

    /// Commits offsets; one error per entry, in order.
    func commitOffsets(_ parameters: CommitParameters) -> EventLoopFuture<[KafkaErrorCode]> {
        eventLoop.submit { self.handleCommit(parameters) }
    }

    private func handleCommit(_ p: CommitParameters) -> [KafkaErrorCode] {
        var errors = [KafkaErrorCode](repeating: .none, count: p.entries.count)
        // Partitions that do not exist are refused one by one before the group is looked at, as Kafka does.
        var valid: [Int] = []
        for (index, entry) in p.entries.enumerated() {
            if topics.partition(entry.topic, entry.partition) == nil {
                errors[index] = .unknownTopicOrPartition
            } else {
                valid.append(index)
            }
        }
        guard !valid.isEmpty else { return errors }
        let failAll = { (error: KafkaErrorCode) -> [KafkaErrorCode] in
            for index in valid { errors[index] = error }
            return errors
        }
        guard !stopped else { return failAll(.coordinatorNotAvailable) }

        let group: ClassicGroup
        if let existing = groups[p.groupId] {
            group = existing
        } else if p.generationId < 0 {
            // A consumer outside group management (or an admin client): a "simple" group holding only offsets.
            group = ClassicGroup(groupId: p.groupId, incarnation: token(), now: self.now())
            groups[p.groupId] = group
        } else {
            return failAll(p.version >= 9 ? .groupIdNotFound : .illegalGeneration)
        }
        if let error = validateCommit(group, p) { return failAll(error) }
        if let member = group.member(p.memberId), group.state == .stable || group.state == .preparingRebalance {
            // A commit is a sign of life too (heartbeats report the rebalance).
            scheduleSessionExpiry(group, member)
        }

        let now = self.now()
        var changes: [OffsetStore.Change] = []
        var stored: [Int] = []
        for index in valid {
            let entry = p.entries[index]
            let metadata = entry.metadata ?? ""
            guard metadata.utf16.count <= configuration.offsetMetadataMaxBytes else {
                errors[index] = .offsetMetadataTooLarge
                continue
            }
            let expire = p.version <= 4 && p.retentionTimeMs >= 0 ? now &+ p.retentionTimeMs : nil
            let value = StoredOffset(offset: entry.offset, leaderEpoch: entry.leaderEpoch, metadata: metadata,
                                     commitTimestamp: now, expireTimestamp: expire)
            changes.append(.offset(group: group.groupId, key: TopicPartitionKey(topic: entry.topic, partition: entry.partition),
                                   value: value))
            stored.append(index)
        }
        do throws(OffsetStore.StoreError) {
            try persist(changes, now: now)
        } catch {
            logger.error("group \(group.groupId): storing offsets failed: \(error)")
            let code: KafkaErrorCode = if case .tooLarge = error { .invalidCommitOffsetSize } else { .notCoordinator }
            for index in stored { errors[index] = code }
            return errors
        }
        for case .offset(_, let key, let value) in changes { group.offsets[key] = value }
        return errors
    }

    /// Who may commit: anyone to an Empty group with generation -1; otherwise a current member of the current
    /// generation; simple commits (no member id, no generation) only while the group has no members. Members
    /// with a valid generation that is still completing its rebalance get REBALANCE_IN_PROGRESS.
    private func validateCommit(_ group: ClassicGroup, _ p: CommitParameters) -> KafkaErrorCode? {
        if group.state == .dead { return .coordinatorNotAvailable }
        if p.generationId < 0 && group.state == .empty { return nil }
        if p.generationId >= 0 || !p.memberId.isEmpty || p.groupInstanceId != nil {
            if let error = validateMember(group, memberId: p.memberId, groupInstanceId: p.groupInstanceId) { return error }
            if p.generationId != group.generationId { return .illegalGeneration }
        } else if group.state != .empty {
            return .unknownMemberId
        }
        if group.state == .completingRebalance { return .rebalanceInProgress }
        return nil
    }

    // MARK: - OffsetFetch

    struct FetchedPartition: Sendable {
        var partition: Int32
        var offset: StoredOffset?
    }

    struct FetchedGroup: Sendable {
        var groupId: String
        var error: KafkaErrorCode = .none
        var topics: [(name: String, partitions: [FetchedPartition])] = []
    }

    /// Committed offsets of each group: of the partitions asked for, or (topics nil) of every partition the
    /// group has committed. Unknown groups and partitions without a commit come back without an offset.
    func fetchOffsets(_ requests: [(groupId: String, topics: [(name: String, partitions: [Int32])]?)]) -> EventLoopFuture<[FetchedGroup]> {
        eventLoop.submit {
            requests.map { request in
                guard !self.stopped else { return FetchedGroup(groupId: request.groupId, error: .coordinatorNotAvailable) }
                let offsets = self.groups[request.groupId]?.offsets ?? [:]
                var result = FetchedGroup(groupId: request.groupId)
                if let topics = request.topics {
                    result.topics = topics.map { topic in
                        (topic.name, topic.partitions.map {
                            FetchedPartition(partition: $0, offset: offsets[TopicPartitionKey(topic: topic.name, partition: $0)])
                        })
                    }
                } else {
                    var byTopic: [String: [FetchedPartition]] = [:]
                    for (key, offset) in offsets.sorted(by: { $0.key < $1.key }) {
                        byTopic[key.topic, default: []].append(FetchedPartition(partition: key.partition, offset: offset))
                    }
                    result.topics = byTopic.keys.sorted().map { ($0, byTopic[$0]!) }
                }
                return result
            }
        }
    }

    // MARK: - Offset expiry

    /// `offsets.retention.minutes`, as Kafka applies it: in an Empty group every offset expires once the group
    /// has been empty that long (or, when that moment is unknown, that long after its commit); in a group
    /// without a protocol type (offsets only) each offset expires that long after its commit; in a Stable
    /// consumer-protocol group only offsets of topics no member subscribes to expire, by commit time. Offsets
    /// committed with an explicit retention (OffsetCommit v2–4) expire at their own time under the same rules.
    /// Expired offsets are deleted with tombstones; an Empty group left without offsets is removed (its metadata
    /// tombstoned in the same batch).
    /// Returns the number of offsets expired.
    func expireOffsets(now: Int64) -> EventLoopFuture<Int> {
        eventLoop.submit { self.expireOffsetsOnLoop(now: now) }
    }

    func expireOffsetsOnLoop(now: Int64) -> Int {
        guard !stopped else { return 0 }
        let retention = configuration.offsetsRetention.wholeMilliseconds
        var expiredCount = 0
        for group in groups.values.sorted(by: { $0.groupId < $1.groupId }) {
            let base: ((TopicPartitionKey, StoredOffset) -> Int64?)?
            if group.protocolType != nil {
                if group.state == .empty {
                    let emptySince = group.stateTimestamp
                    base = { _, offset in emptySince ?? offset.commitTimestamp }
                } else if group.protocolType == "consumer", let subscribed = group.subscribedTopics, group.state == .stable {
                    base = { key, offset in subscribed.contains(key.topic) ? nil : offset.commitTimestamp }
                } else {
                    base = nil
                }
            } else {
                base = { _, offset in offset.commitTimestamp }
            }
            if let base {
                let expired = group.offsets.filter { key, offset in
                    guard let from = base(key, offset) else { return false }
                    if let expireTimestamp = offset.expireTimestamp { return now >= expireTimestamp }
                    return now - from >= retention
                }.keys.sorted()
                if !expired.isEmpty {
                    let removesGroup = group.state == .empty && group.offsets.count == expired.count
                    var changes = expired.map { OffsetStore.Change.offset(group: group.groupId, key: $0, value: nil) }
                    if removesGroup, group.storedMetadata != nil { changes.append(.group(group.groupId, nil)) }
                    do throws(OffsetStore.StoreError) {
                        try persist(changes, now: now)
                        for key in expired { group.offsets[key] = nil }
                        if removesGroup { group.storedMetadata = nil }
                        expiredCount += expired.count
                        logger.debug("group \(group.groupId): expired \(expired.count) offset(s)")
                    } catch {
                        logger.error("group \(group.groupId): writing offset tombstones failed: \(error)")
                    }
                }
            }
            if group.state == .empty && group.offsets.isEmpty {
                if group.storedMetadata != nil {
                    // An Empty group that never had offsets: its metadata alone goes.
                    do throws(OffsetStore.StoreError) {
                        try persist([.group(group.groupId, nil)], now: now)
                        group.storedMetadata = nil
                    } catch {
                        logger.error("group \(group.groupId): writing the group tombstone failed: \(error)")
                        continue
                    }
                }
                unload(group, error: .unknownMemberId)
                groups[group.groupId] = nil
                logger.debug("group \(group.groupId) is empty and has no offsets: removed")
            }
        }
        return expiredCount
    }

    // MARK: - DescribeGroups, ListGroups, DeleteGroups

    /// The ACL operations of a group resource (READ, DELETE, DESCRIBE) as DescribeGroups' bit field, reported
    /// when asked for: there is no authorizer, so all of them are allowed.
    static let groupAuthorizedOperations: Int32 = (1 << 3) | (1 << 6) | (1 << 8)

    func describeGroups(_ groupIds: [String], includeAuthorizedOperations: Bool) -> EventLoopFuture<[DescribeGroupsResponse.DescribedGroup]> {
        eventLoop.submit {
            groupIds.map { groupId in
                var described = DescribeGroupsResponse.DescribedGroup(groupId: groupId)
                if includeAuthorizedOperations { described.authorizedOperations = Self.groupAuthorizedOperations }
                guard !self.stopped else {
                    described.errorCode = KafkaErrorCode.coordinatorNotAvailable.rawValue
                    return described
                }
                guard let group = self.groups[groupId] else {
                    // An unknown group is described as Dead, without an error.
                    described.groupState = GroupState.dead.rawValue
                    return described
                }
                described.groupState = group.state.rawValue
                described.protocolType = group.protocolType ?? ""
                // Metadata and assignments are shown only once the generation is stable.
                let stable = group.state == .stable
                described.protocolData = stable ? group.protocolName ?? "" : ""
                described.members = group.members.map { member in
                    .init(memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                          clientHost: member.clientHost,
                          memberMetadata: stable ? member.metadata(for: group.protocolName) : ByteBuffer(),
                          memberAssignment: stable ? member.assignment : ByteBuffer())
                }
                return described
            }
        }
    }

    /// Every group, optionally only those in some states (v4+) or of some types (v5+; all groups here are
    /// "classic"); both filters ignore case.
    func listGroups(statesFilter: [String], typesFilter: [String]) -> EventLoopFuture<[ListGroupsResponse.ListedGroup]> {
        eventLoop.submit {
            let states = Set(statesFilter.map { $0.lowercased() })
            let types = Set(typesFilter.map { $0.lowercased() })
            guard types.isEmpty || types.contains("classic") else { return [] }
            return self.groups.values
                .filter { states.isEmpty || states.contains($0.state.rawValue.lowercased()) }
                .sorted { $0.groupId < $1.groupId }
                .map { .init(groupId: $0.groupId, protocolType: $0.protocolType ?? "", groupState: $0.state.rawValue, groupType: "classic") }
        }
    }

    /// Deletes groups that have no members, with their offsets (NON_EMPTY_GROUP for the others,
    /// GROUP_ID_NOT_FOUND for unknown ones).
    func deleteGroups(_ groupIds: [String]) -> EventLoopFuture<[KafkaErrorCode]> {
        eventLoop.submit {
            groupIds.map { groupId in
                guard !self.stopped else { return .coordinatorNotAvailable }
                guard let group = self.groups[groupId] else { return .groupIdNotFound }
                guard group.state == .empty else { return .nonEmptyGroup }
                let now = self.now()
                var changes = group.offsets.keys.sorted().map { OffsetStore.Change.offset(group: groupId, key: $0, value: nil) }
                if group.storedMetadata != nil { changes.append(.group(groupId, nil)) }
                do throws(OffsetStore.StoreError) {
                    try self.persist(changes, now: now)
                } catch {
                    self.logger.error("group \(groupId): writing tombstones failed: \(error)")
                    return .coordinatorNotAvailable
                }
                group.offsets.removeAll()
                group.storedMetadata = nil
                self.unload(group, error: .unknownMemberId)
                group.transition(to: .dead, now: now)
                self.groups[groupId] = nil
                return .none
            }
        }
    }

    // MARK: - Inspection

    func snapshot(_ groupId: String) -> EventLoopFuture<GroupSnapshot?> {
        eventLoop.submit {
            guard let group = self.groups[groupId] else { return nil }
            return GroupSnapshot(
                groupId: group.groupId,
                state: GroupSnapshot.State(rawValue: group.state.rawValue) ?? .dead,
                generationId: group.generationId,
                protocolType: group.protocolType,
                protocolName: group.protocolName,
                leaderId: group.leaderId,
                members: group.members.map { member in
                    GroupSnapshot.Member(
                        memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                        clientHost: member.clientHost, sessionTimeoutMs: member.sessionTimeoutMs,
                        rebalanceTimeoutMs: member.rebalanceTimeoutMs, protocols: member.protocolNames,
                        metadata: member.metadata(for: group.protocolName), assignment: member.assignment,
                        isAwaitingJoin: member.awaitingJoin != nil, isAwaitingSync: member.awaitingSync != nil)
                },
                pendingMemberIds: group.pendingJoinMembers.keys.sorted())
        }
    }

    func allGroupIds() -> EventLoopFuture<[String]> {
        eventLoop.submit { self.groups.keys.sorted() }
    }

    func committedOffsets(_ groupId: String) -> EventLoopFuture<[CommittedOffset]> {
        eventLoop.submit {
            (self.groups[groupId]?.offsets ?? [:]).sorted { $0.key < $1.key }.map { key, value in
                CommittedOffset(topic: key.topic, partition: key.partition, offset: value.offset,
                                leaderEpoch: value.leaderEpoch, metadata: value.metadata,
                                commitTimestamp: value.commitTimestamp)
            }
        }
    }

    // MARK: Offsets log

    /// Appends changes to the offsets log. When the log has rolled, a compaction check follows once the caller
    /// has applied the changes in memory: the live commits and group metadata are what a rewrite keeps.
    func persist(_ changes: [OffsetStore.Change], now: Int64) throws(OffsetStore.StoreError) {
        // In a cluster each group's changes go to its own offsets partition.
        var byStore: [ObjectIdentifier: (OffsetStore, [OffsetStore.Change])] = [:]
        for change in changes {
            let groupId: String
            switch change {
            case .offset(let group, _, _): groupId = group
            case .group(let group, _): groupId = group
            }
            guard let target = store(for: groupId) else { throw .storage("this broker no longer coordinates \(groupId)") }
            byStore[ObjectIdentifier(target), default: (target, [])].1.append(change)
        }
        for (target, pending) in byStore.values where target !== store { try target.append(pending, now: now) }
        let own = byStore[ObjectIdentifier(store)]?.1 ?? []
        try store.append(own, now: now)
        guard store.hasInactiveSegments, !compactionScheduled else { return }
        compactionScheduled = true
        eventLoop.execute {
            self.compactionScheduled = false
            self.compactOffsetsLogIfDirty()
        }
    }

    /// Writes a group's metadata (a tombstone when `value` is nil) and remembers it as the group's live record.
    func persistGroup(_ group: ClassicGroup, _ value: StoredGroup?, now: Int64) throws(OffsetStore.StoreError) {
        try persist([.group(group.groupId, value)], now: now)
        group.storedMetadata = value
    }

    /// The answer to a request whose group metadata could not be written, as Kafka maps its own append errors:
    /// a record larger than `message.max.bytes` is UNKNOWN_SERVER_ERROR; a storage failure NOT_COORDINATOR (as
    /// for offsets), which sends the client to look up the coordinator and retry.
    static func groupWriteError(_ error: OffsetStore.StoreError) -> KafkaErrorCode {
        if case .tooLarge = error { .unknownServerError } else { .notCoordinator }
    }

    /// Rewrites the offsets log with the live commits and group metadata when at least half of it is superseded.
    func compactOffsetsLogIfDirty() {
        guard !stopped else { return }
        var live = OffsetStore.Contents()
        for (groupId, group) in groups {
            if !group.offsets.isEmpty { live.offsets[groupId] = group.offsets }
            if let stored = group.storedMetadata { live.groups[groupId] = stored }
        }
        guard store.needsCompaction(liveCount: live.recordCount) else { return }
        let before = store.recordCount
        do throws(OffsetStore.StoreError) {
            try store.compact(keeping: live, now: self.now())
            logger.debug("compacted the offsets log from \(before) to \(store.recordCount) records")
        } catch {
            // The old log stays in use; the next commit after a roll tries again.
            logger.error("compacting the offsets log failed: \(error)")
        }
    }
}
