import KafkaProtocol
import NIOCore

/// The states of a classic (JoinGroup/SyncGroup) group, spelled as Kafka reports them in DescribeGroups and
/// ListGroups.
enum GroupState: String, Sendable, CaseIterable {
    /// No members (offsets may still be stored).
    case empty = "Empty"
    /// A rebalance started: members are expected to (re)join until every known member did or the rebalance
    /// timeout passed.
    case preparingRebalance = "PreparingRebalance"
    /// The new generation was announced; waiting for the leader's SyncGroup with the assignment.
    case completingRebalance = "CompletingRebalance"
    /// Every member has its assignment.
    case stable = "Stable"
    /// The group was removed (deleted, or expired while empty).
    case dead = "Dead"

    /// The states a group may enter this one from (Kafka's transition table).
    var validPreviousStates: Set<GroupState> {
        switch self {
        case .empty: [.preparingRebalance]
        case .preparingRebalance: [.stable, .completingRebalance, .empty]
        case .completingRebalance: [.preparingRebalance]
        case .stable: [.completingRebalance]
        case .dead: [.stable, .preparingRebalance, .completingRebalance, .empty, .dead]
        }
    }
}

/// A JoinGroup answer before it is shaped for the request's version.
struct JoinOutcome: Sendable {
    var error: KafkaErrorCode = .none
    var memberId: String
    var generationId: Int32 = -1
    var protocolType: String?
    var protocolName: String?
    var leaderId: String = ""
    var skipAssignment = false
    var members: [JoinGroupResponse.JoinGroupResponseMember] = []

    static func failure(_ error: KafkaErrorCode, memberId: String) -> JoinOutcome {
        JoinOutcome(error: error, memberId: memberId)
    }
}

/// A SyncGroup answer before it is shaped for the request's version.
struct SyncOutcome: Sendable {
    var error: KafkaErrorCode = .none
    var protocolType: String?
    var protocolName: String?
    var assignment = ByteBuffer()

    static func failure(_ error: KafkaErrorCode) -> SyncOutcome {
        SyncOutcome(error: error)
    }
}

/// A partition of a topic, as offsets are keyed.
struct TopicPartitionKey: Hashable, Sendable, Comparable {
    var topic: String
    var partition: Int32

    static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}

/// A committed offset as the coordinator keeps it.
struct StoredOffset: Hashable, Sendable {
    var offset: Int64
    /// -1: none given.
    var leaderEpoch: Int32
    var metadata: String
    /// Wall-clock milliseconds of the commit.
    var commitTimestamp: Int64
    /// Set only by OffsetCommit v2–4 requests with an explicit retention time (the old per-commit expiry);
    /// nil means the broker's retention rules apply.
    var expireTimestamp: Int64?
}

/// A group's metadata as the offsets log keeps it (Kafka's group metadata record): written when a generation's
/// assignment is complete (Stable) and when the group becomes Empty, enough to bring the group back in that
/// state after a restart.
struct StoredGroup: Hashable, Sendable {
    struct Member: Hashable, Sendable {
        var memberId: String
        var groupInstanceId: String?
        var clientId: String
        var clientHost: String
        var rebalanceTimeoutMs: Int32
        var sessionTimeoutMs: Int32
        /// The member's metadata for the group's protocol (the only one a loaded member offers).
        var metadata: ByteBuffer
        var assignment: ByteBuffer
    }

    var protocolType: String?
    var generationId: Int32
    var protocolName: String?
    var leaderId: String?
    /// Wall-clock milliseconds the group entered its state; nil when unknown.
    var stateTimestamp: Int64?
    /// None for an Empty group, which is how the two states are told apart.
    var members: [Member]
}

/// One member of a classic group. Lives on the coordinator's event loop.
final class GroupMember {
    typealias ProtocolEntry = JoinGroupRequest.JoinGroupRequestProtocol

    var memberId: String
    let groupInstanceId: String?
    var clientId: String
    var clientHost: String
    var sessionTimeoutMs: Int32
    var rebalanceTimeoutMs: Int32
    let protocolType: String
    var protocols: [ProtocolEntry]
    var assignment = ByteBuffer()
    /// The JoinGroup waiting for the rebalance to complete.
    var awaitingJoin: EventLoopPromise<JoinOutcome>?
    /// The SyncGroup waiting for the leader's assignment.
    var awaitingSync: EventLoopPromise<SyncOutcome>?
    /// Joined during the current rebalance and has never completed one: such a member is expired by the
    /// new-member join timeout even while it waits for the join to complete.
    var isNew = false
    /// The session (heartbeat) timer and a token that tells a current firing from a stale one.
    var sessionTimer: Scheduled<Void>?
    var sessionToken: UInt64 = 0
    /// Wall-clock milliseconds of the last heartbeat or other sign of life, for inspection.
    var lastHeartbeat: Int64 = 0

    init(memberId: String, groupInstanceId: String?, clientId: String, clientHost: String, sessionTimeoutMs: Int32,
         rebalanceTimeoutMs: Int32, protocolType: String, protocols: [ProtocolEntry]) {
        self.memberId = memberId
        self.groupInstanceId = groupInstanceId
        self.clientId = clientId
        self.clientHost = clientHost
        self.sessionTimeoutMs = sessionTimeoutMs
        self.rebalanceTimeoutMs = rebalanceTimeoutMs
        self.protocolType = protocolType
        self.protocols = protocols
    }

    var protocolNames: [String] { protocols.map(\.name) }

    /// Whether a rejoin carries the same protocols (names, metadata and order) as the member has.
    func matches(_ other: [ProtocolEntry]) -> Bool {
        protocols.count == other.count
            && zip(protocols, other).allSatisfy { $0.name == $1.name && $0.metadata == $1.metadata }
    }

    func metadata(for protocolName: String?) -> ByteBuffer {
        protocols.first { $0.name == protocolName }?.metadata ?? ByteBuffer()
    }

    /// The member's first preference among `candidates`.
    func vote(among candidates: Set<String>) -> String? {
        protocols.first { candidates.contains($0.name) }?.name
    }
}

/// A classic group: its members, generation and committed offsets. Lives on the coordinator's event loop;
/// only ``GroupCoordinator`` changes it.
final class ClassicGroup {
    let groupId: String
    /// Tells this group's timers from those of an earlier group with the same id.
    let incarnation: UInt64
    private(set) var state: GroupState = .empty
    /// Wall-clock milliseconds of the last state change; nil for a group rebuilt from stored offsets (whose
    /// history is unknown).
    private(set) var stateTimestamp: Int64?
    var protocolType: String?
    var protocolName: String?
    var generationId: Int32 = 0
    var leaderId: String?
    /// In join order (the first is the leader when a leader has to be chosen).
    private(set) var members: [GroupMember] = []
    /// Group instance id to current member id.
    private(set) var staticMembers: [String: String] = [:]
    /// Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry timers.
    var pendingJoinMembers: [String: Scheduled<Void>] = [:]
    /// Members of the current generation that have not sent SyncGroup yet.
    var pendingSyncMembers: Set<String> = []
    /// Set when a member joins a new group's first rebalance, which extends the initial rebalance delay.
    var newMemberAdded = false
    /// The topics the members subscribe to, when the group uses the consumer protocol and the metadata parsed.
    var subscribedTopics: Set<String>?

    /// The join-phase timer: the initial delay of a group moving from Empty (which does not complete early) or
    /// the rebalance timeout.
    enum JoinTimer {
        case initial(delayMs: Int64, remainingMs: Int64)
        case rebalance
    }

    var joinTimer: Scheduled<Void>?
    var joinTimerKind: JoinTimer?
    var joinTimerToken: UInt64 = 0
    var syncTimer: Scheduled<Void>?

    var offsets: [TopicPartitionKey: StoredOffset] = [:]
    /// The group's latest metadata record in the offsets log (nil: none, or a tombstone), which compaction keeps.
    var storedMetadata: StoredGroup?

    init(groupId: String, incarnation: UInt64, now: Int64?) {
        self.groupId = groupId
        self.incarnation = incarnation
        stateTimestamp = now
    }

    // MARK: - Membership

    func member(_ memberId: String) -> GroupMember? {
        members.first { $0.memberId == memberId }
    }

    func has(_ memberId: String) -> Bool { member(memberId) != nil }

    func isLeader(_ memberId: String) -> Bool { leaderId == memberId }

    func staticMemberId(_ groupInstanceId: String) -> String? { staticMembers[groupInstanceId] }

    var isEmpty: Bool { members.isEmpty }

    func add(_ member: GroupMember) {
        if let instanceId = member.groupInstanceId { staticMembers[instanceId] = member.memberId }
        if members.isEmpty { protocolType = member.protocolType }
        if leaderId == nil { leaderId = member.memberId }
        members.append(member)
        pendingJoinMembers.removeValue(forKey: member.memberId)?.cancel()
    }

    /// Takes a member out of the group (its timers cancelled; its waiting requests are the caller's to answer).
    @discardableResult
    func remove(_ memberId: String) -> GroupMember? {
        var removed: GroupMember?
        if let index = members.firstIndex(where: { $0.memberId == memberId }) {
            let member = members.remove(at: index)
            member.sessionTimer?.cancel()
            member.sessionTimer = nil
            if let instanceId = member.groupInstanceId, staticMembers[instanceId] == memberId {
                staticMembers[instanceId] = nil
            }
            removed = member
        }
        if isLeader(memberId) { leaderId = members.first?.memberId }
        pendingJoinMembers.removeValue(forKey: memberId)?.cancel()
        pendingSyncMembers.remove(memberId)
        return removed
    }

    /// A restarted static member takes over its instance's place under a new member id, keeping the
    /// assignment; the old id's waiting requests are fenced by the caller.
    func replaceStaticMember(_ groupInstanceId: String, oldMemberId: String, newMemberId: String) -> GroupMember? {
        guard let member = member(oldMemberId) else { return nil }
        member.memberId = newMemberId
        if leaderId == oldMemberId { leaderId = newMemberId }
        staticMembers[groupInstanceId] = newMemberId
        if pendingSyncMembers.remove(oldMemberId) != nil { pendingSyncMembers.insert(newMemberId) }
        return member
    }

    var hasAllMembersJoined: Bool {
        members.allSatisfy { $0.awaitingJoin != nil } && pendingJoinMembers.isEmpty
    }

    /// The largest rebalance timeout among the members.
    var rebalanceTimeoutMs: Int64 {
        members.map { Int64($0.rebalanceTimeoutMs) }.max() ?? 0
    }

    /// Keeps the leader if it rejoined, else makes the first rejoined member the leader. False when no member
    /// rejoined (or there is no leader at all).
    func electJoinedLeader() -> Bool {
        guard let current = leaderId.flatMap(member) else { return false }
        if current.awaitingJoin != nil { return true }
        guard let joined = members.first(where: { $0.awaitingJoin != nil }) else { return false }
        leaderId = joined.memberId
        return true
    }

    // MARK: - Protocols

    /// Protocol names every member supports.
    var candidateProtocols: Set<String> {
        guard let first = members.first else { return [] }
        var candidates = Set(first.protocolNames)
        for member in members.dropFirst() { candidates.formIntersection(member.protocolNames) }
        return candidates
    }

    /// Whether a member with this protocol type and these protocols could join: into an empty group anything
    /// non-empty; otherwise the type must be the group's and one protocol must be supported by every member.
    func supportsProtocols(type: String, names: [String]) -> Bool {
        if state == .empty { return !type.isEmpty && !names.isEmpty }
        guard protocolType == type else { return false }
        let candidates = candidateProtocols
        return names.contains { candidates.contains($0) }
    }

    /// Each member votes for its first preference among the protocols every member supports; the most votes
    /// win. Kafka leaves ties to hash order; here a tie goes to the protocol the leader prefers, so the choice
    /// is reproducible.
    func selectProtocol() -> String? {
        let candidates = candidateProtocols
        var votes: [String: Int] = [:]
        for member in members {
            if let choice = member.vote(among: candidates) { votes[choice, default: 0] += 1 }
        }
        guard let most = votes.values.max() else { return nil }
        let leader = leaderId.flatMap(member) ?? members[0]
        return leader.protocolNames.first { votes[$0] == most } ?? votes.first { $0.value == most }?.key
    }

    /// The join-response member list the leader gets: every member's metadata for the chosen protocol.
    var currentMemberMetadata: [JoinGroupResponse.JoinGroupResponseMember] {
        members.map { .init(memberId: $0.memberId, groupInstanceId: $0.groupInstanceId, metadata: $0.metadata(for: protocolName)) }
    }

    /// For groups of the consumer protocol: the union of the members' subscribed topics, read from the version
    /// 0 prefix every subscription version shares; nil when unknown.
    func computeSubscribedTopics() -> Set<String>? {
        guard protocolType == "consumer" else { return nil }
        if members.isEmpty { return [] }
        guard protocolName != nil else { return nil }
        var topics: Set<String> = []
        for member in members {
            var bytes = member.metadata(for: protocolName)
            guard bytes.readInteger(as: Int16.self) != nil,
                  let subscription = try? ConsumerProtocolSubscription(from: &bytes, version: 0)
            else { return nil }
            topics.formUnion(subscription.topics)
        }
        return topics
    }

    // MARK: - Stored form

    /// What the offsets log keeps of the group (its state time replaced by `stateTimestamp` when given).
    func stored(stateTimestamp: Int64? = nil) -> StoredGroup {
        StoredGroup(
            protocolType: protocolType, generationId: generationId, protocolName: protocolName, leaderId: leaderId,
            stateTimestamp: stateTimestamp ?? self.stateTimestamp,
            members: members.map { member in
                .init(memberId: member.memberId, groupInstanceId: member.groupInstanceId, clientId: member.clientId,
                      clientHost: member.clientHost, rebalanceTimeoutMs: member.rebalanceTimeoutMs,
                      sessionTimeoutMs: member.sessionTimeoutMs, metadata: member.metadata(for: protocolName),
                      assignment: member.assignment)
            })
    }

    /// Brings a loaded group back as it was stored: Stable with its members (each offering only the chosen
    /// protocol, with its metadata), or Empty, keeping the generation either way. Session timers are the
    /// coordinator's to start.
    func restore(_ stored: StoredGroup) {
        protocolType = stored.protocolType
        generationId = stored.generationId
        protocolName = stored.protocolName
        for entry in stored.members {
            let member = GroupMember(
                memberId: entry.memberId, groupInstanceId: entry.groupInstanceId, clientId: entry.clientId,
                clientHost: entry.clientHost, sessionTimeoutMs: entry.sessionTimeoutMs,
                rebalanceTimeoutMs: entry.rebalanceTimeoutMs, protocolType: stored.protocolType ?? "",
                protocols: [.init(name: stored.protocolName ?? "", metadata: entry.metadata)])
            member.assignment = entry.assignment
            add(member)
        }
        protocolType = stored.protocolType  // `add` took the first member's, which has no nil
        leaderId = stored.leaderId.flatMap { has($0) ? $0 : nil } ?? members.first?.memberId
        // Not a transition: the group resumes the state it was stored in.
        state = members.isEmpty ? .empty : .stable
        stateTimestamp = stored.stateTimestamp
        subscribedTopics = computeSubscribedTopics()
        storedMetadata = stored
    }

    // MARK: - State

    var canRebalance: Bool { GroupState.preparingRebalance.validPreviousStates.contains(state) }

    func transition(to newState: GroupState, now: Int64) {
        assert(newState.validPreviousStates.contains(state), "group \(groupId): \(state) -> \(newState)")
        state = newState
        stateTimestamp = now
    }

    /// Starts the next generation once the join phase is over.
    func initNextGeneration(now: Int64) {
        generationId &+= 1
        if members.isEmpty {
            protocolName = nil
            subscribedTopics = computeSubscribedTopics()
            transition(to: .empty, now: now)
        } else {
            protocolName = selectProtocol()
            subscribedTopics = computeSubscribedTopics()
            transition(to: .completingRebalance, now: now)
        }
        pendingSyncMembers.removeAll()
    }
}
