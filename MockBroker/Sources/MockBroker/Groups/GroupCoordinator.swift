import Foundation
import KafkaProtocol
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The classic group coordinator (JoinGroup/SyncGroup/Heartbeat/LeaveGroup and offsets), after Kafka's
/// pre-KIP-848 protocol.
///
/// Every group lives on one event loop, `eventLoop`: requests hop onto it (`flatSubmit`), and the timers — session
/// expiry, the join phase (initial delay or rebalance timeout), the sync deadline, pending-member expiry — are
/// tasks scheduled on it. Nothing else touches the groups, so there are no locks and no races between a timer and
/// a request. Requests that must wait (a JoinGroup until the rebalance completes, a follower's SyncGroup until the
/// leader's) get a promise that the group completes later; every such promise is completed exactly once, with an
/// error when its member is removed, fenced or superseded, or when the broker stops.
///
/// Offsets are kept in memory per group and written to ``OffsetStore`` before a commit is acknowledged. So is a
/// group's metadata (generation, protocol, leader, members and assignments) when a generation's assignment is
/// complete and when the group becomes Empty, as Kafka does: a restarted broker brings its groups back in that
/// state, and their members carry on without a rebalance.
///
/// `@unchecked Sendable`: every mutable field is touched on `eventLoop` only (requests hop there; timers are
/// scheduled there), or in `init`, before the coordinator is shared.
final class GroupCoordinator: @unchecked Sendable {
    /// How long a new member's first JoinGroup may wait for its rebalance (Kafka's fixed 5 minutes): the
    /// session timeout cannot apply before the member has an id to heartbeat with.
    static let newMemberJoinTimeoutMs: Int64 = 5 * 60 * 1000

    /// The internal topic a cluster keeps groups and committed offsets in.
    static let offsetsTopic = "__consumer_offsets"

    let eventLoop: any EventLoop
    let configuration: MockBrokerConfiguration
    let topics: TopicRegistry
    let logger: Logger
    let counters: BrokerCounters
    let store: OffsetStore
    /// Timestamps come from here (the wall clock unless a test injects one).
    let clock: CoordinatorClock
    /// What opening the offsets log found damaged on disk and cut away (read once, at startup).
    let offsetsLogRecoveries: [LogRecovery]

    /// The `__consumer_offsets` partition a group belongs to in a cluster; nil for a lone broker, whose one
    /// offsets log (``store``) holds every group.
    let offsetsPartition: @Sendable (String) -> Int32?

    // Confined to `eventLoop` (set up in init, before any request can arrive).
    var groups: [String: ClassicGroup] = [:]
    /// In a cluster: the stores of the `__consumer_offsets` partitions this broker leads, and so coordinates.
    var partitionStores: [Int32: OffsetStore] = [:]
    /// The offsets partitions whose groups are loaded, readable from any thread: requests for a group whose
    /// partition is still loading get COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers them.
    private let loadedPartitions = NIOLockedValueBox<Set<Int32>>([])
    private var nextToken: UInt64 = 0
    var compactionScheduled = false
    private var expiryTask: RepeatedTask?
    private(set) var stopped = false

    init(configuration: MockBrokerConfiguration, dataDirectory: String, topics: TopicRegistry, eventLoop: any EventLoop,
         clock: CoordinatorClock = .wall, offsetsPartition: @escaping @Sendable (String) -> Int32? = { _ in nil },
         counters: BrokerCounters? = nil, logger: Logger) throws {
        self.configuration = configuration
        self.clock = clock
        self.offsetsPartition = offsetsPartition
        self.counters = counters ?? BrokerCounters(brokerId: configuration.nodeId, factory: configuration.metricsFactory)
        self.topics = topics
        self.eventLoop = eventLoop
        self.logger = logger
        let now = clock.now()
        store = try OffsetStore(dataDirectory: dataDirectory, maxMessageBytes: configuration.log.maxMessageBytes,
                                segmentBytes: configuration.offsetsTopicSegmentBytes, now: now)
        offsetsLogRecoveries = store.recoveries
        do {
            // Groups come back as they were last stored (Stable with their members, or Empty), as after a
            // coordinator move in Kafka; groups with offsets only come back Empty. Sessions start in `start()`.
            let contents = try store.load()
            for (groupId, stored) in contents.groups {
                let group = ClassicGroup(groupId: groupId, incarnation: token(), now: nil)
                group.restore(stored)
                groups[groupId] = group
            }
            for (groupId, offsets) in contents.offsets {
                let group = groups[groupId] ?? ClassicGroup(groupId: groupId, incarnation: token(), now: nil)
                group.offsets = offsets
                groups[groupId] = group
            }
        } catch {
            store.close()
            throw error
        }
        if !groups.isEmpty {
            let members = groups.values.reduce(0) { $0 + $1.members.count }
            logger.info("loaded \(groups.count) group(s) with \(members) member(s) from the offsets log")
        }
    }

    func now() -> Int64 { clock.now() }

    /// Reports how many groups and members there are (after a join completes or a member goes).
    func publishSizes() {
        counters.groups(groups.count, members: groups.values.reduce(0) { $0 + $1.members.count })
    }

    func token() -> UInt64 {
        nextToken &+= 1
        return nextToken
    }

    /// Starts the sessions of loaded members, as if each had just heartbeated (one that never comes back
    /// expires after its session timeout and the group rebalances), and the periodic offset expiry
    /// (`offsets.retention.check.interval.ms`).
    func start() {
        let interval = configuration.offsetsRetentionCheckInterval
        eventLoop.execute {
            guard !self.stopped else { return }
            for group in self.groups.values where group.state == .stable {
                for member in group.members where member.sessionTimer == nil {
                    self.scheduleSessionExpiry(group, member)
                }
            }
            self.expiryTask = self.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                let expired = self.expireOffsetsOnLoop(now: self.now())
                if expired > 0 { self.logger.info("offset retention expired \(expired) committed offset(s)") }
            }
        }
    }

    /// Stops the timers, answers every waiting request with COORDINATOR_NOT_AVAILABLE (the answers go nowhere
    /// once connections are closed, but no promise is left pending) and closes the offsets log.
    func shutdown() async {
        let done: EventLoopFuture<Void> = eventLoop.submit {
            self.stopped = true
            self.expiryTask?.cancel()
            self.expiryTask = nil
            for group in self.groups.values { self.unload(group, error: .coordinatorNotAvailable) }
            self.groups.removeAll()
        }
        try? await done.get()
        store.close()
    }

    // MARK: - Coordinator moves (cluster)

    /// The store a group's writes go to: its offsets partition's, while this broker leads it (the lone store for
    /// a lone broker); nil when this broker does not coordinate the group.
    func store(for groupId: String) -> OffsetStore? {
        guard let partition = offsetsPartition(groupId) else { return store }
        return partitionStores[partition]
    }

    /// Whether the groups of offsets partition `partition` are loaded here (always true on a lone broker).
    func isLoaded(_ partition: Int32?) -> Bool {
        guard let partition else { return true }
        return loadedPartitions.withLockedValue { $0.contains(partition) }
    }

    /// This broker became leader of `__consumer_offsets` partition `partition`: it loads the groups and offsets
    /// the replicated log holds, as Kafka's coordinator does on a move, and coordinates them from now on.
    func loadPartition(_ partition: Int32, log: PartitionLog) {
        eventLoop.execute {
            guard !self.stopped, self.partitionStores[partition] == nil else { return }
            // Groups made by requests that slipped in before the load (none should) give way to the stored ones.
            for (groupId, group) in self.groups where self.offsetsPartition(groupId) == partition {
                self.unload(group, error: .notCoordinator)
                self.groups[groupId] = nil
            }
            let store = OffsetStore(replicated: log)
            let contents: OffsetStore.Contents
            do {
                contents = try store.load()
            } catch {
                self.logger.error("could not load __consumer_offsets-\(partition): \(error)")
                return
            }
            self.partitionStores[partition] = store
            for (groupId, stored) in contents.groups {
                let group = ClassicGroup(groupId: groupId, incarnation: self.token(), now: nil)
                group.restore(stored)
                self.groups[groupId] = group
            }
            for (groupId, offsets) in contents.offsets {
                let group = self.groups[groupId] ?? ClassicGroup(groupId: groupId, incarnation: self.token(), now: nil)
                group.offsets = offsets
                self.groups[groupId] = group
            }
            for groupId in Set(contents.groups.keys).union(contents.offsets.keys) {
                guard let group = self.groups[groupId], group.state == .stable else { continue }
                for member in group.members where member.sessionTimer == nil { self.scheduleSessionExpiry(group, member) }
            }
            self.loadedPartitions.withLockedValue { _ = $0.insert(partition) }
            self.logger.info("loaded \(contents.groups.count) group(s) and the offsets of \(contents.offsets.count) from __consumer_offsets-\(partition)")
        }
    }

    /// This broker no longer leads `__consumer_offsets` partition `partition`: its groups are dropped, and their
    /// waiting requests answered NOT_COORDINATOR (the clients find the new coordinator).
    func unloadPartition(_ partition: Int32) {
        // From now on requests for these groups are refused; what is waiting is answered on the loop.
        loadedPartitions.withLockedValue { _ = $0.remove(partition) }
        eventLoop.execute {
            guard self.partitionStores.removeValue(forKey: partition) != nil else { return }
            for (groupId, group) in self.groups where self.offsetsPartition(groupId) == partition {
                self.unload(group, error: .notCoordinator)
                self.groups[groupId] = nil
            }
            self.logger.info("no longer coordinating the groups of __consumer_offsets-\(partition)")
        }
    }

    /// Cancels a group's timers and answers its waiting requests with `error`.
    func unload(_ group: ClassicGroup, error: KafkaErrorCode) {
        group.joinTimer?.cancel()
        group.joinTimer = nil
        group.syncTimer?.cancel()
        group.syncTimer = nil
        for (_, timer) in group.pendingJoinMembers { timer.cancel() }
        group.pendingJoinMembers.removeAll()
        for member in group.members {
            member.sessionTimer?.cancel()
            member.sessionTimer = nil
            answerJoin(member, .failure(error, memberId: member.memberId))
            answerSync(member, .failure(error))
        }
    }

    // MARK: - Answering waiting requests

    func answerJoin(_ member: GroupMember, _ outcome: JoinOutcome) {
        guard let promise = member.awaitingJoin else { return }
        member.awaitingJoin = nil
        promise.succeed(outcome)
    }

    func answerSync(_ member: GroupMember, _ outcome: SyncOutcome) {
        guard let promise = member.awaitingSync else { return }
        member.awaitingSync = nil
        promise.succeed(outcome)
    }

    /// The join answer of a member of the current generation; the leader gets every member's metadata.
    private func generationOutcome(_ group: ClassicGroup, for memberId: String, leaderId: String? = nil,
                                   withMembers: Bool, skipAssignment: Bool = false) -> JoinOutcome {
        JoinOutcome(memberId: memberId, generationId: group.generationId, protocolType: group.protocolType,
                    protocolName: group.protocolName, leaderId: leaderId ?? group.leaderId ?? "",
                    skipAssignment: skipAssignment, members: withMembers ? group.currentMemberMetadata : [])
    }

    // MARK: - Validation

    /// Kafka's member check: a given instance id must map to this member id (FENCED_INSTANCE_ID when it maps to
    /// another, UNKNOWN_MEMBER_ID when to none), and the member must exist.
    func validateMember(_ group: ClassicGroup, memberId: String, groupInstanceId: String?) -> KafkaErrorCode? {
        if let groupInstanceId {
            guard let current = group.staticMemberId(groupInstanceId) else { return .unknownMemberId }
            if current != memberId {
                logger.debug("group \(group.groupId): member \(memberId) of instance \(groupInstanceId) is fenced by \(current)")
                return .fencedInstanceId
            }
        }
        return group.has(memberId) ? nil : .unknownMemberId
    }

    // MARK: - JoinGroup

    struct JoinParameters: Sendable {
        var groupId: String
        var memberId: String
        var groupInstanceId: String?
        var clientId: String
        var clientHost: String
        var sessionTimeoutMs: Int32
        var rebalanceTimeoutMs: Int32
        var protocolType: String
        var protocols: [JoinGroupRequest.JoinGroupRequestProtocol]
        /// v4+ dynamic members must first get their id through MEMBER_ID_REQUIRED.
        var requireKnownMemberId: Bool
        /// v9+: a static leader rejoining a stable group gets the members with SkipAssignment.
        var supportsSkippingAssignment: Bool
    }

    func joinGroup(_ parameters: JoinParameters) -> EventLoopFuture<JoinOutcome> {
        eventLoop.flatSubmit { self.handleJoin(parameters) }
    }

    private func handleJoin(_ p: JoinParameters) -> EventLoopFuture<JoinOutcome> {
        let promise = eventLoop.makePromise(of: JoinOutcome.self)
        let fail = { (error: KafkaErrorCode, memberId: String) -> EventLoopFuture<JoinOutcome> in
            promise.succeed(.failure(error, memberId: memberId))
            return promise.futureResult
        }
        guard !stopped else { return fail(.coordinatorNotAvailable, p.memberId) }
        guard !p.groupId.isEmpty else { return fail(.invalidGroupId, p.memberId) }
        let session = Int64(p.sessionTimeoutMs)
        guard session >= configuration.groupMinSessionTimeout.wholeMilliseconds,
              session <= configuration.groupMaxSessionTimeout.wholeMilliseconds
        else { return fail(.invalidSessionTimeout, p.memberId) }

        let isUnknownMember = p.memberId.isEmpty
        let group: ClassicGroup
        if let existing = groups[p.groupId] {
            group = existing
        } else if isUnknownMember {
            group = ClassicGroup(groupId: p.groupId, incarnation: token(), now: self.now())
            groups[p.groupId] = group
        } else {
            return fail(.unknownMemberId, p.memberId)
        }

        if !acceptsJoiningMember(group, memberId: p.memberId) {
            group.pendingJoinMembers.removeValue(forKey: p.memberId)?.cancel()
            if let member = group.member(p.memberId) {
                removeMemberAndUpdateGroup(group, member, reason: "group is full")
            }
            return fail(.groupMaxSizeReached, "")
        }
        if isUnknownMember {
            joinAsNewMember(group, p, promise)
        } else {
            joinAsCurrentMember(group, p, promise)
        }
        if group.state == .preparingRebalance { tryCompleteJoin(group) }
        return promise.futureResult
    }

    /// `group.max.size`: in PreparingRebalance the members already waiting count, otherwise the group's size.
    private func acceptsJoiningMember(_ group: ClassicGroup, memberId: String) -> Bool {
        let maxSize = configuration.groupMaxSize
        switch group.state {
        case .empty, .dead:
            return true
        case .preparingRebalance:
            if let member = group.member(memberId), member.awaitingJoin != nil { return true }
            return group.members.filter { $0.awaitingJoin != nil }.count < maxSize
        case .completingRebalance, .stable:
            return group.has(memberId) || group.members.count < maxSize
        }
    }

    private func joinAsNewMember(_ group: ClassicGroup, _ p: JoinParameters, _ promise: EventLoopPromise<JoinOutcome>) {
        guard group.supportsProtocols(type: p.protocolType, names: p.protocols.map(\.name)) else {
            promise.succeed(.failure(.inconsistentGroupProtocol, memberId: ""))
            return
        }
        let newMemberId = "\(p.groupInstanceId ?? p.clientId)-\(UUID().uuidString.lowercased())"
        if let instanceId = p.groupInstanceId {
            if let oldMemberId = group.staticMemberId(instanceId) {
                replaceStaticMember(group, instanceId: instanceId, oldMemberId: oldMemberId, newMemberId: newMemberId, p, promise)
            } else {
                addMemberAndRebalance(group, memberId: newMemberId, p, promise)
            }
        } else if p.requireKnownMemberId {
            // The member must come back with this id (within its session timeout) to join.
            let groupId = group.groupId
            let incarnation = group.incarnation
            group.pendingJoinMembers[newMemberId] = eventLoop.scheduleTask(in: .milliseconds(Int64(p.sessionTimeoutMs))) {
                self.expirePendingMember(groupId: groupId, incarnation: incarnation, memberId: newMemberId)
            }
            promise.succeed(.failure(.memberIdRequired, memberId: newMemberId))
        } else {
            addMemberAndRebalance(group, memberId: newMemberId, p, promise)
        }
    }

    private func joinAsCurrentMember(_ group: ClassicGroup, _ p: JoinParameters, _ promise: EventLoopPromise<JoinOutcome>) {
        guard group.supportsProtocols(type: p.protocolType, names: p.protocols.map(\.name)) else {
            promise.succeed(.failure(.inconsistentGroupProtocol, memberId: p.memberId))
            return
        }
        if group.pendingJoinMembers[p.memberId] != nil, p.groupInstanceId == nil {
            addMemberAndRebalance(group, memberId: p.memberId, p, promise)
            return
        }
        if let error = validateMember(group, memberId: p.memberId, groupInstanceId: p.groupInstanceId) {
            promise.succeed(.failure(error, memberId: p.memberId))
            return
        }
        let member = group.member(p.memberId)!
        switch group.state {
        case .preparingRebalance:
            updateMemberAndRebalance(group, member, p, promise)
        case .completingRebalance:
            if member.matches(p.protocols) {
                // Probably lost the first answer: repeat this generation's.
                promise.succeed(generationOutcome(group, for: member.memberId, withMembers: group.isLeader(member.memberId)))
            } else {
                updateMemberAndRebalance(group, member, p, promise)
            }
        case .stable:
            if group.isLeader(member.memberId) || !member.matches(p.protocols) {
                // The leader rejoining asks for a rebalance (e.g. its topics' metadata changed); so do new protocols.
                updateMemberAndRebalance(group, member, p, promise)
            } else {
                promise.succeed(generationOutcome(group, for: member.memberId, withMembers: false))
            }
        case .empty, .dead:
            promise.succeed(.failure(.unknownMemberId, memberId: p.memberId))
        }
    }

    private func addMemberAndRebalance(_ group: ClassicGroup, memberId: String, _ p: JoinParameters,
                                       _ promise: EventLoopPromise<JoinOutcome>) {
        let member = GroupMember(memberId: memberId, groupInstanceId: p.groupInstanceId, clientId: p.clientId,
                                 clientHost: p.clientHost, sessionTimeoutMs: p.sessionTimeoutMs,
                                 rebalanceTimeoutMs: p.rebalanceTimeoutMs, protocolType: p.protocolType,
                                 protocols: p.protocols)
        member.isNew = true
        member.awaitingJoin = promise
        // A member joining a new group's first rebalance extends the initial delay once more.
        if group.state == .preparingRebalance && group.generationId == 0 { group.newMemberAdded = true }
        group.add(member)
        scheduleSessionExpiry(group, member, timeoutMs: Self.newMemberJoinTimeoutMs)
        maybePrepareRebalance(group, reason: "member \(memberId) joined")
    }

    private func updateMemberAndRebalance(_ group: ClassicGroup, _ member: GroupMember, _ p: JoinParameters,
                                          _ promise: EventLoopPromise<JoinOutcome>) {
        updateMember(member, p, promise)
        maybePrepareRebalance(group, reason: "member \(member.memberId) rejoined")
    }

    private func updateMember(_ member: GroupMember, _ p: JoinParameters, _ promise: EventLoopPromise<JoinOutcome>) {
        member.protocols = p.protocols
        member.rebalanceTimeoutMs = p.rebalanceTimeoutMs
        member.sessionTimeoutMs = p.sessionTimeoutMs
        member.clientId = p.clientId
        member.clientHost = p.clientHost
        // A second JoinGroup from the same member (a retry over another connection) supersedes the first.
        answerJoin(member, .failure(.rebalanceInProgress, memberId: member.memberId))
        member.awaitingJoin = promise
    }

    /// A static member restarted: the new member id takes the old one's place. A stable group whose protocol
    /// choice does not change keeps its generation and assignment (no rebalance); otherwise a rebalance starts.
    private func replaceStaticMember(_ group: ClassicGroup, instanceId: String, oldMemberId: String, newMemberId: String,
                                     _ p: JoinParameters, _ promise: EventLoopPromise<JoinOutcome>) {
        let previousLeader = group.leaderId
        guard let old = group.member(oldMemberId) else {
            promise.succeed(.failure(.unknownMemberId, memberId: ""))
            return
        }
        answerJoin(old, .failure(.fencedInstanceId, memberId: oldMemberId))
        answerSync(old, .failure(.fencedInstanceId))
        guard let member = group.replaceStaticMember(instanceId, oldMemberId: oldMemberId, newMemberId: newMemberId) else {
            promise.succeed(.failure(.unknownMemberId, memberId: ""))
            return
        }
        logger.debug("group \(group.groupId): static member \(instanceId) rejoined as \(newMemberId), replacing \(oldMemberId)")
        let previous = (member.protocols, member.rebalanceTimeoutMs, member.sessionTimeoutMs, member.clientId, member.clientHost)
        updateMember(member, p, promise)
        scheduleSessionExpiry(group, member)
        switch group.state {
        case .stable:
            if group.selectProtocol() == group.protocolName {
                // The new member id is stored: a restart bringing back the old one would fence this instance.
                do throws(OffsetStore.StoreError) {
                    try persistGroup(group, group.stored(), now: self.now())
                } catch {
                    // As Kafka: the old member id (and settings) come back and the join fails.
                    logger.error("group \(group.groupId): storing static member \(instanceId)'s new id failed: \(error)")
                    _ = group.replaceStaticMember(instanceId, oldMemberId: newMemberId, newMemberId: oldMemberId)
                    (member.protocols, member.rebalanceTimeoutMs, member.sessionTimeoutMs, member.clientId, member.clientHost) = previous
                    answerJoin(member, .failure(Self.groupWriteError(error), memberId: ""))
                    return
                }
                let isLeader = group.isLeader(newMemberId)
                if isLeader && p.supportsSkippingAssignment {
                    // v9: the leader learns the members but must not compute a new assignment.
                    answerJoin(member, generationOutcome(group, for: newMemberId, withMembers: true, skipAssignment: true))
                } else {
                    // Before v9 the old leader id is returned, so that a restarted leader does not think it leads
                    // and does not compute an assignment a stable group would ignore.
                    answerJoin(member, generationOutcome(group, for: newMemberId, leaderId: previousLeader ?? "", withMembers: false))
                }
            } else {
                maybePrepareRebalance(group, reason: "static member \(instanceId) rejoined with other protocols")
            }
        case .completingRebalance:
            // The leader may already be assigning to the old member id: start over.
            prepareRebalance(group, reason: "static member \(instanceId) rejoined while the group was completing a rebalance")
        case .preparingRebalance:
            break
        case .empty, .dead:
            answerJoin(member, .failure(.unknownMemberId, memberId: newMemberId))
        }
    }

    // MARK: - Rebalancing

    func maybePrepareRebalance(_ group: ClassicGroup, reason: String) {
        if group.canRebalance { prepareRebalance(group, reason: reason) }
    }

    func prepareRebalance(_ group: ClassicGroup, reason: String) {
        if group.state == .completingRebalance {
            // Members waiting for their assignment must rejoin instead.
            for member in group.members {
                member.assignment = ByteBuffer()
                answerSync(member, .failure(.rebalanceInProgress))
            }
        }
        group.syncTimer?.cancel()
        group.syncTimer = nil
        group.pendingSyncMembers.removeAll()

        let fromEmpty = group.state == .empty
        group.transition(to: .preparingRebalance, now: self.now())
        logger.debug("group \(group.groupId): preparing rebalance from generation \(group.generationId) (\(reason))")
        if fromEmpty {
            let delay = configuration.groupInitialRebalanceDelay.wholeMilliseconds
            scheduleJoinTimer(group, .initial(delayMs: delay, remainingMs: max(group.rebalanceTimeoutMs - delay, 0)),
                              after: delay)
        } else {
            scheduleJoinTimer(group, .rebalance, after: group.rebalanceTimeoutMs)
            tryCompleteJoin(group)
        }
    }

    private func scheduleJoinTimer(_ group: ClassicGroup, _ kind: ClassicGroup.JoinTimer, after milliseconds: Int64) {
        group.joinTimer?.cancel()
        let token = token()
        group.joinTimerToken = token
        group.joinTimerKind = kind
        let groupId = group.groupId
        group.joinTimer = eventLoop.scheduleTask(in: .milliseconds(max(milliseconds, 0))) {
            self.joinTimerFired(groupId: groupId, token: token)
        }
    }

    private func joinTimerFired(groupId: String, token: UInt64) {
        guard let group = groups[groupId], group.joinTimerToken == token, group.state == .preparingRebalance else { return }
        group.joinTimer = nil
        if case .initial(let delay, let remaining)? = group.joinTimerKind, group.newMemberAdded, remaining > 0 {
            // More members arrived during the initial delay: wait once more (never past the rebalance timeout).
            group.newMemberAdded = false
            let configured = configuration.groupInitialRebalanceDelay.wholeMilliseconds
            let next = min(configured, remaining)
            scheduleJoinTimer(group, .initial(delayMs: next, remainingMs: max(remaining - delay, 0)), after: next)
            return
        }
        completeJoin(group)
    }

    /// Completes the join phase early once every member (and every pending member) has joined. The initial
    /// delay of a group moving from Empty is never cut short.
    func tryCompleteJoin(_ group: ClassicGroup) {
        guard group.state == .preparingRebalance, case .rebalance? = group.joinTimerKind, group.hasAllMembersJoined else {
            return
        }
        completeJoin(group)
    }

    /// Ends the join phase: dynamic members that did not rejoin are dropped, a leader is chosen among those that
    /// did, and the next generation is announced to every waiting member.
    private func completeJoin(_ group: ClassicGroup) {
        defer { publishSizes() }
        group.joinTimer?.cancel()
        group.joinTimer = nil
        group.joinTimerKind = nil
        group.joinTimerToken = token()

        for member in group.members where member.awaitingJoin == nil && member.groupInstanceId == nil {
            logger.debug("group \(group.groupId): removing member \(member.memberId), which did not rejoin in time")
            answerSync(member, .failure(.unknownMemberId))
            group.remove(member.memberId)
        }
        guard group.state != .dead else { return }
        if !group.electJoinedLeader() && !group.isEmpty {
            // Only static members are left and none rejoined: wait another rebalance timeout (their sessions
            // expire them meanwhile if they are gone).
            scheduleJoinTimer(group, .rebalance, after: group.rebalanceTimeoutMs)
            return
        }
        let now = self.now()
        group.initNextGeneration(now: now)
        guard group.state == .completingRebalance else {
            logger.debug("group \(group.groupId) is empty at generation \(group.generationId)")
            // Stored so that a restart keeps the generation; nobody waits for this write, so a failure is only
            // logged (the previous record, or none, stays in the log).
            do throws(OffsetStore.StoreError) {
                try persistGroup(group, group.stored(), now: now)
            } catch {
                logger.error("group \(group.groupId): storing the empty group failed: \(error)")
            }
            return
        }
        logger.debug("group \(group.groupId): generation \(group.generationId) with \(group.members.count) member(s), protocol \(group.protocolName ?? "-")")
        for member in group.members {
            answerJoin(member, generationOutcome(group, for: member.memberId, withMembers: group.isLeader(member.memberId)))
            scheduleSessionExpiry(group, member)
            member.isNew = false
            group.pendingSyncMembers.insert(member.memberId)
        }
        // Members that do not sync within the rebalance timeout are removed.
        let groupId = group.groupId
        let incarnation = group.incarnation
        let generation = group.generationId
        group.syncTimer?.cancel()
        group.syncTimer = eventLoop.scheduleTask(in: .milliseconds(group.rebalanceTimeoutMs)) {
            self.syncDeadlinePassed(groupId: groupId, incarnation: incarnation, generation: generation)
        }
    }

    private func syncDeadlinePassed(groupId: String, incarnation: UInt64, generation: Int32) {
        guard let group = groups[groupId], group.incarnation == incarnation, group.generationId == generation,
              group.state == .completingRebalance || group.state == .stable
        else { return }
        group.syncTimer = nil
        guard !group.pendingSyncMembers.isEmpty else { return }
        let missing = group.pendingSyncMembers.sorted()
        logger.debug("group \(groupId): removing member(s) \(missing), which did not sync in time")
        for memberId in missing {
            if let member = group.remove(memberId) { answerJoin(member, .failure(.unknownMemberId, memberId: memberId)) }
        }
        prepareRebalance(group, reason: "members did not sync in time")
    }

    private func removePendingSyncMember(_ group: ClassicGroup, _ memberId: String) {
        group.pendingSyncMembers.remove(memberId)
        if group.pendingSyncMembers.isEmpty {
            group.syncTimer?.cancel()
            group.syncTimer = nil
        }
    }

    /// Removes a member (answering its waiting requests with UNKNOWN_MEMBER_ID) and lets the group react: a
    /// rebalance from Stable or CompletingRebalance, a possibly complete join phase in PreparingRebalance.
    func removeMemberAndUpdateGroup(_ group: ClassicGroup, _ member: GroupMember, reason: String) {
        answerJoin(member, .failure(.unknownMemberId, memberId: ""))
        answerSync(member, .failure(.unknownMemberId))
        group.remove(member.memberId)
        publishSizes()
        switch group.state {
        case .stable, .completingRebalance: maybePrepareRebalance(group, reason: reason)
        case .preparingRebalance: tryCompleteJoin(group)
        case .empty, .dead: break
        }
    }

    // MARK: - Sessions

    /// (Re)starts a member's session timer: `timeoutMs`, else its session timeout.
    func scheduleSessionExpiry(_ group: ClassicGroup, _ member: GroupMember, timeoutMs: Int64? = nil) {
        member.sessionTimer?.cancel()
        member.lastHeartbeat = self.now()
        let token = token()
        member.sessionToken = token
        let groupId = group.groupId
        let memberId = member.memberId
        let incarnation = group.incarnation
        member.sessionTimer = eventLoop.scheduleTask(in: .milliseconds(timeoutMs ?? Int64(member.sessionTimeoutMs))) {
            self.sessionExpired(groupId: groupId, incarnation: incarnation, memberId: memberId, token: token)
        }
    }

    private func sessionExpired(groupId: String, incarnation: UInt64, memberId: String, token: UInt64) {
        guard let group = groups[groupId], group.incarnation == incarnation, let member = group.member(memberId),
              member.sessionToken == token
        else { return }
        member.sessionTimer = nil
        // Members waiting in a rebalance are alive by definition (their requests are parked here), except new
        // ones, which the join timeout bounds.
        if !member.isNew && (member.awaitingJoin != nil || member.awaitingSync != nil) { return }
        logger.debug("group \(groupId): session of member \(memberId) expired")
        removeMemberAndUpdateGroup(group, member, reason: "session of \(memberId) expired")
    }

    private func expirePendingMember(groupId: String, incarnation: UInt64, memberId: String) {
        guard let group = groups[groupId], group.incarnation == incarnation,
              group.pendingJoinMembers.removeValue(forKey: memberId) != nil
        else { return }
        logger.debug("group \(groupId): pending member \(memberId) did not rejoin within its session timeout")
        if group.state == .preparingRebalance { tryCompleteJoin(group) }
    }

    // MARK: - SyncGroup

    struct SyncParameters: Sendable {
        var groupId: String
        var generationId: Int32
        var memberId: String
        var groupInstanceId: String?
        var protocolType: String?
        var protocolName: String?
        var assignments: [(memberId: String, assignment: ByteBuffer)]
    }

    func syncGroup(_ parameters: SyncParameters) -> EventLoopFuture<SyncOutcome> {
        eventLoop.flatSubmit { self.handleSync(parameters) }
    }

    private func handleSync(_ p: SyncParameters) -> EventLoopFuture<SyncOutcome> {
        let promise = eventLoop.makePromise(of: SyncOutcome.self)
        let fail = { (error: KafkaErrorCode) -> EventLoopFuture<SyncOutcome> in
            promise.succeed(.failure(error))
            return promise.futureResult
        }
        guard !stopped else { return fail(.coordinatorNotAvailable) }
        guard !p.groupId.isEmpty else { return fail(.invalidGroupId) }
        guard let group = groups[p.groupId] else { return fail(.unknownMemberId) }
        if let error = validateMember(group, memberId: p.memberId, groupInstanceId: p.groupInstanceId) { return fail(error) }
        guard p.generationId == group.generationId else { return fail(.illegalGeneration) }
        if let type = p.protocolType, type != group.protocolType { return fail(.inconsistentGroupProtocol) }
        if let name = p.protocolName, name != group.protocolName { return fail(.inconsistentGroupProtocol) }
        let member = group.member(p.memberId)!
        switch group.state {
        case .empty, .dead:
            return fail(.unknownMemberId)
        case .preparingRebalance:
            return fail(.rebalanceInProgress)
        case .completingRebalance:
            answerSync(member, .failure(.rebalanceInProgress))
            member.awaitingSync = promise
            removePendingSyncMember(group, member.memberId)
            if group.isLeader(member.memberId) {
                var assignments: [String: ByteBuffer] = [:]
                for entry in p.assignments { assignments[entry.memberId] = entry.assignment }
                for member in group.members {
                    member.assignment = assignments[member.memberId] ?? ByteBuffer()
                }
                let now = self.now()
                do throws(OffsetStore.StoreError) {
                    // The generation is stored before anyone learns its assignment, so a restart brings it back.
                    try persistGroup(group, group.stored(stateTimestamp: now), now: now)
                } catch {
                    // As Kafka: the waiting members get the error and the group rebalances.
                    logger.error("group \(group.groupId): storing generation \(group.generationId) failed: \(error)")
                    let code = Self.groupWriteError(error)
                    for member in group.members {
                        member.assignment = ByteBuffer()
                        answerSync(member, .failure(code))
                    }
                    prepareRebalance(group, reason: "storing the assignment failed")
                    return promise.futureResult
                }
                // Every waiting member gets its own assignment; their sessions start over from here.
                for member in group.members {
                    answerSync(member, SyncOutcome(protocolType: group.protocolType, protocolName: group.protocolName,
                                                   assignment: member.assignment))
                    scheduleSessionExpiry(group, member)
                }
                group.transition(to: .stable, now: now)
                logger.debug("group \(group.groupId): generation \(group.generationId) is stable")
            }
            return promise.futureResult
        case .stable:
            removePendingSyncMember(group, member.memberId)
            scheduleSessionExpiry(group, member)
            promise.succeed(SyncOutcome(protocolType: group.protocolType, protocolName: group.protocolName,
                                        assignment: member.assignment))
            return promise.futureResult
        }
    }

    // MARK: - Heartbeat

    func heartbeat(groupId: String, memberId: String, groupInstanceId: String?, generationId: Int32) -> EventLoopFuture<KafkaErrorCode> {
        eventLoop.submit {
            guard !self.stopped else { return .coordinatorNotAvailable }
            guard !groupId.isEmpty else { return .invalidGroupId }
            guard let group = self.groups[groupId] else { return .unknownMemberId }
            if let error = self.validateMember(group, memberId: memberId, groupInstanceId: groupInstanceId) { return error }
            guard generationId == group.generationId else { return .illegalGeneration }
            let member = group.member(memberId)!
            switch group.state {
            case .empty, .dead:
                return .unknownMemberId
            case .completingRebalance, .stable:
                self.scheduleSessionExpiry(group, member)
                return .none
            case .preparingRebalance:
                self.scheduleSessionExpiry(group, member)
                return .rebalanceInProgress
            }
        }
    }

    // MARK: - LeaveGroup

    /// Removes members by member id, or by group instance id alone (an administrative removal). Returns the
    /// group-level error and one error per member.
    func leaveGroup(groupId: String, members: [(memberId: String, groupInstanceId: String?)]) -> EventLoopFuture<(KafkaErrorCode, [KafkaErrorCode])> {
        eventLoop.submit {
            guard !self.stopped else { return (.coordinatorNotAvailable, []) }
            guard !groupId.isEmpty else { return (.invalidGroupId, []) }
            guard let group = self.groups[groupId] else { return (.none, members.map { _ in .unknownMemberId }) }
            let errors = members.map { leaving -> KafkaErrorCode in
                if leaving.memberId.isEmpty {
                    guard let instanceId = leaving.groupInstanceId, let current = group.staticMemberId(instanceId),
                          let member = group.member(current)
                    else { return .unknownMemberId }
                    self.removeMemberAndUpdateGroup(group, member, reason: "static member \(instanceId) was removed")
                    return .none
                }
                if let pending = group.pendingJoinMembers.removeValue(forKey: leaving.memberId) {
                    pending.cancel()
                    if group.state == .preparingRebalance { self.tryCompleteJoin(group) }
                    return .none
                }
                if let error = self.validateMember(group, memberId: leaving.memberId, groupInstanceId: leaving.groupInstanceId) {
                    return error
                }
                self.removeMemberAndUpdateGroup(group, group.member(leaving.memberId)!, reason: "member \(leaving.memberId) left")
                return .none
            }
            return (.none, errors)
        }
    }
}

extension TimeAmount {
    /// Whole milliseconds.
    var wholeMilliseconds: Int64 { nanoseconds / 1_000_000 }
}
