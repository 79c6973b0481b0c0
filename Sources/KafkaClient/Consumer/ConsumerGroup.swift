import KafkaProtocol
import Logging
import NIOCore

/// The consumer's membership in its group (the classic protocol): finds the coordinator, joins, assigns
/// partitions when it is the leader, syncs, heartbeats on its own schedule, and rejoins when the coordinator
/// asks. With an eager assignor every partition is given up before a rebalance; with a cooperative one (KIP-429)
/// only the partitions that move are, in a second, follow-up rebalance.
///
/// It also commits offsets and reads committed offsets, with or without group membership.
///
/// The actor runs on its client's event loop (the one its connections use), and its loops prefer that loop as
/// their task executor: membership never waits for a thread of Swift's cooperative pool, which the application's
/// own work may keep busy (see ``EventLoopTaskExecutor``).
actor ConsumerGroup {
    private let groupId: String
    private let configuration: ConsumerConfiguration
    private let cluster: ClusterClient
    private let subscriptions: SubscriptionState
    private let buffer: FetchBuffer
    private let wakeFetcher: @Sendable () -> Void
    private let events: AsyncStream<RebalanceEvent>.Continuation
    private let logger: Logger
    private let metrics: ConsumerMetrics

    /// The membership's state and decisions (member id, generation, owned partitions, where a rebalance is); this
    /// actor does the I/O and carries out what it decides. close() abandons a JoinGroup (it may be held for a long
    /// time) but lets a SyncGroup finish: as the leader this member's SyncGroup is what the others wait for, and a
    /// commit between JoinGroup and SyncGroup would be refused with REBALANCE_IN_PROGRESS.
    private var membership: GroupMembership
    private var closed = false
    /// close() has begun: no new rebalance starts.
    private var closing = false
    private var lastPoll = NIODeadline.now()
    private var loop: Task<Void, Never>?
    private var autoCommit: Task<Void, Never>?
    /// The membership loop's sleep between heartbeats, which ``wakeUp()`` cuts short.
    private var sleeper: (id: UInt64, continuation: CheckedContinuation<Void, Never>, timer: Scheduled<Void>)?
    private var nextSleeperId: UInt64 = 0
    /// A wake-up that came while the loop was not sleeping: the next sleep returns at once.
    private var wakePending = false
    /// Changes with every `subscribe`, so a subscription changed during a join is noticed after it.
    private var subscriptionVersion = 0
    /// The application's activity when last looked at (`max.poll.interval.ms`).
    private var lastActivity: (taken: UInt64, progress: Int64) = (0, 0)
    /// As the leader: the partition counts the last assignment was computed from, to notice new partitions.
    private var assignedCounts: [String: Int32]?

    private static let protocolType = "consumer"

    /// The client's event loop, as this actor's executor and as its loops' task executor.
    private let eventLoop: any EventLoop
    /// Tasks that start membership work prefer this executor (see ``EventLoopTaskExecutor``).
    nonisolated let loopExecutor: EventLoopTaskExecutor

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        eventLoop.executor.asUnownedSerialExecutor()
    }

    /// Whether this actor's code is running on its client's event loop (for tests).
    var isOnItsEventLoop: Bool { eventLoop.inEventLoop }

    init(groupId: String, configuration: ConsumerConfiguration, cluster: ClusterClient, subscriptions: SubscriptionState,
         buffer: FetchBuffer, wakeFetcher: @escaping @Sendable () -> Void, events: AsyncStream<RebalanceEvent>.Continuation,
         logger: Logger, metrics: ConsumerMetrics) {
        self.metrics = metrics
        self.groupId = groupId
        self.configuration = configuration
        self.cluster = cluster
        eventLoop = cluster.eventLoop
        loopExecutor = EventLoopTaskExecutor(cluster.eventLoop)
        self.subscriptions = subscriptions
        self.buffer = buffer
        self.wakeFetcher = wakeFetcher
        self.events = events
        var logger = logger
        logger[metadataKey: "kafka.group"] = "\(groupId)"
        self.logger = logger
        let cooperative = configuration.assignors.allSatisfy { $0.rebalanceProtocol == .cooperative }
        membership = GroupMembership(rebalanceProtocol: cooperative ? .cooperative : .eager,
                                     groupInstanceId: configuration.groupInstanceId)
    }

    // MARK: - Membership

    /// Starts (or nudges) membership after `subscribe`.
    func subscriptionChanged() {
        membership.needsRejoin = true
        subscriptionVersion += 1
        if loop == nil {
            loop = Task(executorPreference: loopExecutor) { await self.run() }
        } else {
            wakeUp()
        }
        startAutoCommit()
    }

    /// `assign` with a `group.id`: no membership, but auto-commit runs.
    func assignmentChanged() {
        startAutoCommit()
    }

    private func startAutoCommit() {
        if configuration.enableAutoCommit && autoCommit == nil && !closed {
            autoCommit = Task(executorPreference: loopExecutor) { await self.autoCommitLoop() }
        }
    }

    /// The application asked for records: it is alive (`max.poll.interval.ms`).
    func polled() {
        lastPoll = .now()
        if membership.polled() { wakeUp() }
    }

    /// Gives up the subscription: commits (with auto-commit) what the application processed and leaves.
    func unsubscribe() async {
        subscriptionVersion += 1
        await perform(membership.unsubscribed(), reason: "unsubscribed")
    }

    private var isSubscribed: Bool {
        if case .subscribed = subscriptions.mode { true } else { false }
    }

    private func run() async {
        var failures = 0
        while !closed && !closing && !Task.isCancelled {
            do {
                if membership.shouldJoin(subscribed: isSubscribed) {
                    defer { membership.joinAbandoned() }
                    try await joinAndSync()
                    failures = 0
                    continue
                }
                try await heartbeatIfMember()
                if membership.needsRejoin { continue } // the coordinator started a rebalance: rejoin now
                checkPollInterval()
                try await checkMetadataChanges()
                failures = 0
                await sleep(membership.nextHeartbeatDelay(interval: configuration.heartbeatInterval.timeAmount))
            } catch {
                failures += 1
                if case KafkaConsumerError.fencedInstance = error {
                    // Another instance with this group.instance.id took over: its partitions are no longer ours.
                    await perform(membership.lose(), reason: "fenced by another instance")
                    buffer.add(error as! KafkaConsumerError)
                    return
                }
                logger.debug("group membership: \(error)")
                let backoff = ExponentialBackoff(initial: configuration.client.retryBackoff.timeAmount, maximum: configuration.client.retryBackoffMax.timeAmount)
                await sleep(backoff.delay(attempt: failures))
            }
        }
    }

    /// Sleeps for `duration`, or until ``wakeUp()``.
    private func sleep(_ duration: TimeAmount) async {
        if wakePending {
            wakePending = false
            return
        }
        nextSleeperId += 1
        let id = nextSleeperId
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // An event loop timer, not Task.sleep: it fires on this actor's loop without needing a pool thread.
            let timer = eventLoop.scheduleTask(in: duration) {
                self.assumeIsolated { $0.endSleep(id) }
            }
            sleeper = (id, continuation, timer)
        }
    }

    private func endSleep(_ id: UInt64) {
        guard let current = sleeper, current.id == id else { return }
        sleeper = nil
        current.continuation.resume()
    }

    /// Cuts the membership loop's sleep short (or the next one, when it is not sleeping).
    private func wakeUp() {
        guard let current = sleeper else {
            wakePending = true
            return
        }
        sleeper = nil
        current.timer.cancel()
        current.continuation.resume()
    }

    /// Leaves the group when the application has not asked for records within `max.poll.interval.ms`, as the Java
    /// consumer does; the next request for records rejoins. An application waiting for records, or moving
    /// through fetched ones, is alive.
    private func checkPollInterval() {
        let (waiting, taken) = buffer.readerActivity
        let progress = subscriptions.progress
        if waiting || taken != lastActivity.taken || progress != lastActivity.progress {
            lastPoll = .now()
            lastActivity = (taken, progress)
        }
        guard membership.generationId >= 0, NIODeadline.now() - lastPoll > configuration.maxPollInterval.timeAmount else { return }
        logger.warning("no records requested for longer than max.poll.interval.ms; leaving the group")
        let actions = membership.leaveForInactivity()
        Task { await self.perform(actions, reason: "max.poll.interval.ms expired") }
    }

    /// The leader rebalances when a subscribed topic gained partitions.
    private func checkMetadataChanges() async throws {
        guard let assignedCounts, case .subscribed(let topics) = subscriptions.mode else { return }
        if cluster.metadataIsStale { _ = try await cluster.refreshMetadata(adding: topics, allowAutoTopicCreation: false).get() }
        let metadata = cluster.metadata
        for topic in topics {
            let count = Int32(metadata.topics[topic]?.partitions.count ?? 0)
            if count != (assignedCounts[topic] ?? 0) {
                logger.debug("partitions of \(topic) changed (\(assignedCounts[topic] ?? 0) -> \(count)); rebalancing")
                membership.needsRejoin = true
                return
            }
        }
    }

    // MARK: - Joining

    private var preferredAssignors: [any ConsumerPartitionAssignor] { configuration.assignors }

    /// The rebalance protocol this member follows, whichever assignor the group picks: cooperative only when every
    /// configured assignor supports it, as in the Java client. Deciding per generation from the picked assignor
    /// would be too late: a switch to an eager assignor is only known after joining, when the new leader has
    /// already handed out partitions this member still reads.
    private var rebalanceProtocol: RebalanceProtocol { membership.rebalanceProtocol }

    private func assignor(named name: String?) -> (any ConsumerPartitionAssignor)? {
        preferredAssignors.first { $0.name == name }
    }

    private func joinAndSync() async throws {
        guard case .subscribed(let topics) = subscriptions.mode else { return }
        let joinedVersion = subscriptionVersion
        // Eager: everything is given up before joining; cooperative: what is owned is named in the subscription.
        let (given, cooperativeOwned) = membership.beginJoin()
        await perform(given, reason: "rebalance")
        let connection = try await coordinatorConnection()
        let generationId = membership.generationId
        let protocols = try preferredAssignors.map { assignor -> JoinGroupRequest.JoinGroupRequestProtocol in
            let subscription = ConsumerProtocolSubscription(
                topics: topics.sorted(),
                userData: assignor.subscriptionUserData(topics: topics, ownedPartitions: cooperativeOwned, generationId: generationId),
                ownedPartitions: Self.grouped(cooperativeOwned),
                generationId: generationId
            )
            return .init(name: assignor.name, metadata: try subscription.encodedWithVersionPrefix(version: 3))
        }
        var request = JoinGroupRequest(
            groupId: groupId, sessionTimeoutMs: Int32(configuration.sessionTimeout.timeAmount.nanoseconds / 1_000_000),
            rebalanceTimeoutMs: Int32(configuration.maxPollInterval.timeAmount.nanoseconds / 1_000_000), memberId: membership.memberId,
            groupInstanceId: configuration.groupInstanceId, protocolType: Self.protocolType, protocols: protocols,
            reason: "joining"
        )
        // The coordinator may hold a JoinGroup for the whole rebalance timeout (as the Java client, allow 5 s more).
        let joinTimeout = max(configuration.client.requestTimeout.timeAmount, configuration.maxPollInterval.timeAmount + .seconds(5))
        membership.joinSent()
        var step: GroupMembership.JoinStep?
        var outcome = GroupMembership.Outcome()
        var response: JoinGroupResponse
        var attempts = 0
        repeat {
            response = try await connection.send(request, version: joinVersion(connection), timeout: joinTimeout)
            // close() gave up on this join and left the group meanwhile.
            guard !closing else { return }
            (step, outcome) = membership.joinAnswered(KafkaErrorCode(rawValue: response.errorCode), memberId: response.memberId,
                                                      generationId: response.generationId, leader: response.leader,
                                                      protocolName: response.protocolName, skipAssignment: response.skipAssignment)
            // KIP-394: the coordinator gave us an id; join again with it.
            if case .joinAgain(let memberId) = step { request.memberId = memberId }
            attempts += 1
        } while step.map({ if case .joinAgain = $0 { true } else { false } }) == true && attempts < 4
        try await conclude(outcome, reason: "JoinGroup", context: "JoinGroup")
        guard case .sync(let isLeader) = step else { return }
        metrics.rebalances.increment()
        logger.debug("joined generation \(membership.generationId) as \(isLeader ? "leader" : "member") \(membership.memberId) (\(membership.protocolName ?? "?"))")

        var assignments: [SyncGroupRequest.SyncGroupRequestAssignment] = []
        assignedCounts = nil
        if isLeader {
            assignments = try await assign(members: response.members, protocol: membership.protocolName)
        }
        let sync = try await connection.send(SyncGroupRequest(
            groupId: groupId, generationId: membership.generationId, memberId: membership.memberId,
            groupInstanceId: configuration.groupInstanceId, protocolType: Self.protocolType,
            protocolName: membership.protocolName, assignments: assignments
        ))
        let code = KafkaErrorCode(rawValue: sync.errorCode)
        let assigned = code == .none && sync.assignment.readableBytes > 0
            ? Set(Self.flattened(try ConsumerProtocolAssignment(decodingWithVersionPrefix: sync.assignment).assignedPartitions))
            : []
        try await conclude(membership.syncAnswered(code, assigned: assigned, subscriptionChanged: subscriptionVersion != joinedVersion),
                           reason: "SyncGroup: \(code.name)", context: "SyncGroup")
    }

    /// Carries out an outcome's actions, then throws its failure (typed as the consumer reports it).
    private func conclude(_ outcome: GroupMembership.Outcome, reason: String, context: String) async throws {
        await perform(outcome.actions, reason: reason)
        switch outcome.failure {
        case nil: return
        case .fenced: throw KafkaConsumerError.fencedInstance(configuration.groupInstanceId ?? "")
        case .coordinatorMoved(let code), .unknownMember(let code), .broker(let code):
            throw KafkaConsumerError.broker(code, context: context)
        }
    }

    /// Carries out the membership's actions, in order.
    private func perform(_ actions: [GroupMembership.Action], reason: String) async {
        for action in actions {
            switch action {
            case .revoke(let partitions, let committing):
                await revoke(partitions, reason: reason, committing: committing)
            case .lose(let partitions):
                lose(partitions, reason: reason)
            case .take(let added, let assignment, let announce):
                take(added, assignment: assignment, announce: announce)
            case .findCoordinator:
                forgetCoordinator()
            case .sendLeave(let memberId):
                await sendLeaveGroup(memberId: memberId, reason: reason)
            }
        }
    }

    private func joinVersion(_ connection: BrokerConnection) throws -> Int16 {
        try connection.version(for: JoinGroupRequest.self)
    }

    /// As the leader: decodes every member's subscription and runs the chosen assignor.
    private func assign(members: [JoinGroupResponse.JoinGroupResponseMember], protocol name: String?) async throws
        -> [SyncGroupRequest.SyncGroupRequestAssignment] {
        guard let assignor = assignor(named: name) else {
            throw KafkaConsumerError.broker(.inconsistentGroupProtocol, context: "the group chose an assignor this consumer lacks")
        }
        let subscriptions = try members.map { member in
            GroupMemberSubscription(memberId: member.memberId, groupInstanceId: member.groupInstanceId,
                                    subscription: try ConsumerProtocolSubscription(decodingWithVersionPrefix: member.metadata))
        }
        let topics = subscriptions.reduce(into: Set<String>()) { $0.formUnion($1.topics) }
        let metadata = try await cluster.refreshMetadata(adding: topics, allowAutoTopicCreation: false).get()
        var counts: [String: Int32] = [:]
        for topic in topics {
            if let known = metadata.topics[topic], known.error == .none, !known.partitions.isEmpty {
                counts[topic] = Int32(known.partitions.count)
            }
        }
        assignedCounts = counts
        let result = assignor.assign(members: subscriptions, partitionCounts: counts)
        logger.debug("assigned \(counts.values.reduce(0, +)) partitions to \(members.count) members with \(assignor.name)")
        return try members.map { member in
            let partitions = result[member.memberId] ?? []
            let assignment = ConsumerProtocolAssignment(assignedPartitions: Self.grouped(partitions).map {
                .init(topic: $0.topic, partitions: $0.partitions)
            })
            return .init(memberId: member.memberId, assignment: try assignment.encodedWithVersionPrefix(version: 0))
        }
    }

    /// Takes on partitions (their committed offsets are looked up) and announces the assignment.
    private func take(_ added: Set<TopicPartition>, assignment: Set<TopicPartition>, announce: Bool) {
        subscriptions.add(added, lookupCommitted: true)
        if announce { events.yield(.assigned(added.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) })) }
        logger.debug("assignment: \(assignment.count) partitions (+\(added.count))", metadata: membershipMetadata)
        wakeFetcher()
        buffer.wake()
    }

    /// Gives partitions back (the membership has already taken them out of what it owns, so a close() that runs
    /// while the commit suspends does not revoke them again), committing their positions first with auto-commit.
    private func revoke(_ partitions: Set<TopicPartition>, reason: String, committing: GroupMembership.RevocationCommit) async {
        guard !partitions.isEmpty else { return }
        // Nothing more is fetched or handed out for them: a record read during the commit would escape it.
        subscriptions.freeze(partitions)
        if configuration.enableAutoCommit && committing != .none {
            let offsets = subscriptions.committableOffsets(processedOnly: committing == .processed).filter { partitions.contains($0.key) }
            if !offsets.isEmpty {
                do {
                    try await commit(offsets)
                } catch {
                    logger.warning("commit before revoking partitions failed: \(error)")
                }
            }
        }
        subscriptions.remove(partitions)
        buffer.drop(partitions)
        events.yield(.revoked(partitions.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }))
        logger.debug("revoked \(partitions.count) partitions (\(reason))")
    }

    /// The coordinator no longer knows us: the partitions are lost, not revoked (no commit).
    private func lose(_ lost: Set<TopicPartition>, reason: String) {
        subscriptions.remove(lost)
        buffer.drop(lost)
        if !lost.isEmpty { events.yield(.lost(lost.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) })) }
        // Lost without a commit: what was processed since the last commit is read again by the next owner.
        if !lost.isEmpty { logger.warning("lost \(lost.count) partitions: \(reason)", metadata: membershipMetadata) }
    }

    private func heartbeatIfMember() async throws {
        guard membership.isMember else { return }
        let connection = try await coordinatorConnection()
        let generationId = membership.generationId
        let response = try await connection.send(HeartbeatRequest(groupId: groupId, generationId: generationId,
                                                                  memberId: membership.memberId,
                                                                  groupInstanceId: configuration.groupInstanceId))
        let code = KafkaErrorCode(rawValue: response.errorCode)
        if code == .rebalanceInProgress { logger.debug("the group is rebalancing; rejoining") }
        try await conclude(membership.heartbeatAnswered(code), reason: "Heartbeat: \(code.name) (generation \(generationId))",
                           context: "Heartbeat")
    }

    /// Tells the coordinator this member leaves. Best effort: without it the coordinator drops the member when its
    /// session times out.
    private func sendLeaveGroup(memberId: String, reason: String) async {
        do {
            let connection = try await coordinatorConnection()
            // v0-2 name one member at the top level; v3+ (KIP-345) list members, with their instance ids.
            let request = try connection.version(for: LeaveGroupRequest.self) >= 3
                ? LeaveGroupRequest(groupId: groupId, members: [
                    .init(memberId: memberId, groupInstanceId: configuration.groupInstanceId, reason: reason),
                ])
                : LeaveGroupRequest(groupId: groupId, memberId: memberId)
            _ = try await connection.send(request)
        } catch {
            logger.debug("LeaveGroup failed (the coordinator will expire the member): \(error)", metadata: membershipMetadata)
        }
    }

    /// Generation and member id, for log lines about the membership.
    private var membershipMetadata: Logger.Metadata {
        ["kafka.generation": "\(membership.generationId)", "kafka.member": "\(membership.memberId)"]
    }

    // MARK: - Coordinator

    private func coordinatorConnection() async throws -> BrokerConnection {
        try await cluster.coordinatorConnection(.group, key: groupId)
    }

    /// The coordinator moved or is gone: the next request looks for it again.
    private func forgetCoordinator() {
        cluster.forgetCoordinator(.group, key: groupId)
    }

    // MARK: - Offsets

    /// Commits offsets (as a member of the current generation, or as a "simple" commit outside group
    /// management). Retries coordinator moves; fails on rebalances with ``KafkaConsumerError/commitFailed(_:)``.
    func commit(_ offsets: [TopicPartition: OffsetAndMetadata]) async throws(KafkaConsumerError) {
        guard !offsets.isEmpty else { return }
        let byTopic = Dictionary(grouping: offsets, by: \.key.topic)
        let inGroup = isSubscribed && membership.generationId >= 0
        var request = OffsetCommitRequest(
            groupId: groupId, generationIdOrMemberEpoch: inGroup ? membership.generationId : -1,
            memberId: inGroup ? membership.memberId : "",
            groupInstanceId: inGroup ? configuration.groupInstanceId : nil,
            topics: byTopic.keys.sorted().map { topic in
                .init(name: topic, partitions: byTopic[topic]!.sorted { $0.key.partition < $1.key.partition }.map { entry in
                    .init(partitionIndex: entry.key.partition, committedOffset: entry.value.offset,
                          committedLeaderEpoch: entry.value.leaderEpoch ?? -1, committedMetadata: entry.value.metadata ?? "")
                })
            }
        )
        request.retentionTimeMs = -1
        let deadline = NIODeadline.now() + configuration.client.requestTimeout.timeAmount
        var attempt = 0
        while true {
            do {
                let connection = try await coordinatorConnection()
                let started = NIODeadline.now()
                let response = try await connection.send(request)
                metrics.commitLatency.recordNanoseconds((NIODeadline.now() - started).nanoseconds)
                let codes = response.topics.flatMap { $0.partitions.map { KafkaErrorCode(rawValue: $0.errorCode) } }
                guard let failure = codes.first(where: { $0 != .none }) else { return }
                switch failure {
                case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress, .requestTimedOut:
                    forgetCoordinator()
                    throw KafkaConsumerError.broker(failure, context: "OffsetCommit")
                case .rebalanceInProgress, .unknownMemberId, .illegalGeneration:
                    membership.commitRefused(failure)
                    wakeUp()
                    throw KafkaConsumerError.commitFailed(failure)
                case .fencedInstanceId:
                    throw KafkaConsumerError.fencedInstance(configuration.groupInstanceId ?? "")
                default:
                    throw KafkaConsumerError.broker(failure, context: "OffsetCommit")
                }
            } catch {
                let retriable: Bool
                switch error {
                case KafkaConsumerError.broker(let code, _): retriable = code.isRetriable || code == .notCoordinator
                case let error as KafkaClientError: retriable = error.isRetriable
                default: retriable = false
                }
                guard retriable, NIODeadline.now() < deadline, !closed else {
                    if let error = error as? KafkaConsumerError { throw error }
                    throw .timedOut("OffsetCommit: \(error)")
                }
                attempt += 1
                let backoff = ExponentialBackoff(initial: configuration.client.retryBackoff.timeAmount, maximum: configuration.client.retryBackoffMax.timeAmount)
                try? await Task.sleep(nanoseconds: UInt64(backoff.delay(attempt: attempt).nanoseconds))
            }
        }
    }

    /// The group's committed offsets for `partitions` (offset -1 when none is committed).
    func committed(_ partitions: [TopicPartition]) async throws -> [TopicPartition: OffsetAndMetadata] {
        let byTopic = Dictionary(grouping: partitions, by: \.topic)
        let deadline = NIODeadline.now() + configuration.client.requestTimeout.timeAmount
        var attempt = 0
        while true {
            let connection = try await coordinatorConnection()
            let version = try connection.version(for: OffsetFetchRequest.self)
            let topics = byTopic.keys.sorted()
            let request: OffsetFetchRequest = version >= 8
                ? OffsetFetchRequest(groups: [.init(groupId: groupId, topics: topics.map { .init(name: $0, partitionIndexes: byTopic[$0]!.map(\.partition)) })],
                                     requireStable: true)
                : OffsetFetchRequest(groupId: groupId, topics: topics.map { .init(name: $0, partitionIndexes: byTopic[$0]!.map(\.partition)) },
                                     requireStable: true)
            let response = try await connection.send(request, version: version)
            var code = KafkaErrorCode(rawValue: response.errorCode)
            var offsets: [TopicPartition: OffsetAndMetadata] = [:]
            func record(_ topic: String, _ partition: Int32, _ offset: Int64, _ epoch: Int32, _ metadata: String?, _ error: Int16) {
                if error != 0 && code == .none { code = KafkaErrorCode(rawValue: error) }
                offsets[TopicPartition(topic: topic, partition: partition)] = OffsetAndMetadata(
                    offset: offset, leaderEpoch: epoch >= 0 ? epoch : nil, metadata: metadata)
            }
            if version >= 8 {
                for group in response.groups {
                    if group.errorCode != 0 && code == .none { code = KafkaErrorCode(rawValue: group.errorCode) }
                    for topic in group.topics {
                        for p in topic.partitions { record(topic.name, p.partitionIndex, p.committedOffset, p.committedLeaderEpoch, p.metadata, p.errorCode) }
                    }
                }
            } else {
                for topic in response.topics {
                    for p in topic.partitions { record(topic.name, p.partitionIndex, p.committedOffset, p.committedLeaderEpoch, p.metadata, p.errorCode) }
                }
            }
            switch code {
            case .none:
                return offsets
            case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress, .unstableOffsetCommit:
                if code != .unstableOffsetCommit { forgetCoordinator() }
                guard NIODeadline.now() < deadline else { throw KafkaConsumerError.timedOut("OffsetFetch") }
                attempt += 1
                try? await Task.sleep(nanoseconds: UInt64(ExponentialBackoff(initial: configuration.client.retryBackoff.timeAmount,
                                                                              maximum: configuration.client.retryBackoffMax.timeAmount).delay(attempt: attempt).nanoseconds))
            default:
                throw KafkaConsumerError.broker(code, context: "OffsetFetch")
            }
        }
    }

    private func autoCommitLoop() async {
        while !closed && !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(configuration.autoCommitInterval.timeAmount.nanoseconds))
            guard !closed, !closing, !Task.isCancelled else { return }
            // What the application is done with: it asked for more after those records were handed out.
            let offsets = subscriptions.committableOffsets(processedOnly: true)
            do {
                try await commit(offsets)
            } catch {
                logger.debug("auto-commit failed: \(error)")
            }
        }
    }

    // MARK: - Closing

    /// Commits (with auto-commit), leaves the group (dynamic members; static members stay so a restart does not
    /// rebalance), and stops.
    /// Leaves the group; with `commit` (and auto-commit), what was handed out is committed first.
    func close(commit commitOnClose: Bool = true) async {
        guard !closed, !closing else { return }
        closing = true
        // A SyncGroup in flight finishes first (bounded; see `rebalancePhase`). (Waited for in a task of its own,
        // which a cancelled caller does not turn into a busy loop.)
        let deadline = NIODeadline.now() + configuration.client.requestTimeout.timeAmount
        await Task {
            while self.membership.phase == .syncing && NIODeadline.now() < deadline {
                try? await Task.sleep(nanoseconds: 10_000_000)
            }
        }.value
        if membership.phase == .joining, let coordinator = cluster.cachedCoordinator(.group, key: groupId) {
            // A JoinGroup may be held for up to the rebalance timeout, and a broker answers a connection's requests
            // in order: the commit and LeaveGroup go on a new connection. The group is still preparing the
            // rebalance, so a commit with the current generation is accepted.
            logger.debug("closing during a JoinGroup: abandoning it")
            await cluster.closeConnection(to: coordinator, for: .coordination)
        }
        // An auto-commit under way finishes first: sent after the final commit, it would take it back.
        autoCommit?.cancel()
        await autoCommit?.value
        // Everything handed out is committed (the application has stopped reading), as the Java client's close does.
        if commitOnClose && configuration.enableAutoCommit {
            do {
                try await commit(subscriptions.committableOffsets(processedOnly: false))
            } catch {
                logger.warning("final commit failed: \(error)")
            }
        }
        closed = true
        loop?.cancel()
        wakeUp()
        // Also a member that has not finished its first join leaves: the coordinator would otherwise hold the
        // rebalance for it until its session times out.
        if membership.leavesOnClose {
            await perform(membership.leave(committing: .none), reason: "consumer closed")
        }
    }

    // MARK: - Helpers

    static func grouped(_ partitions: [TopicPartition]) -> [ConsumerProtocolSubscription.TopicPartition] {
        Dictionary(grouping: partitions, by: \.topic).keys.sorted().map { topic in
            .init(topic: topic, partitions: partitions.filter { $0.topic == topic }.map(\.partition).sorted())
        }
    }

    static func flattened(_ assigned: [ConsumerProtocolAssignment.TopicPartition]) -> [TopicPartition] {
        assigned.flatMap { topic in topic.partitions.map { TopicPartition(topic: topic.topic, partition: $0) } }
    }
}
