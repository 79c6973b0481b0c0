import KafkaProtocol
import NIOCore

/// A member's place in its group under the classic protocol, as a value: what the coordinator answered goes in,
/// what the member must do comes out. No I/O, no clock: ``ConsumerGroup`` sends the requests, feeds their answers
/// here and carries out the actions (revoking with a commit, announcing assignments, finding the coordinator
/// again). Tests drive it directly, without sockets.
struct GroupMembership: Sendable {
    /// Where a JoinGroup/SyncGroup round is.
    enum Phase: Sendable, Equatable {
        case none
        case joining
        case syncing
    }

    /// What the member must do after an answer.
    enum Action: Sendable, Equatable {
        /// Give these up, committing them first with auto-commit (a rebalance, leaving).
        case revoke(Set<TopicPartition>, RevocationCommit)
        /// These are gone without a chance to commit (the coordinator forgot us).
        case lose(Set<TopicPartition>)
        /// Take these on (look up their committed offsets); `announce`: tell the application the assignment (a
        /// cooperative round that only took partitions away announces nothing until the follow-up round).
        case take(added: Set<TopicPartition>, assignment: Set<TopicPartition>, announce: Bool)
        /// The coordinator moved: find it again.
        case findCoordinator
        /// Tell the coordinator this member leaves (LeaveGroup), with this id.
        case sendLeave(memberId: String)
    }

    /// What a revocation commits (with auto-commit): during a rebalance, what the application has processed (it
    /// may be in the middle of a record); when it gives the partitions up itself (close, unsubscribe), everything
    /// handed out; nothing when that was committed just before.
    enum RevocationCommit: Sendable, Equatable {
        case processed, handedOut, none
    }

    /// Why a round or a heartbeat cannot go on.
    enum Failure: Error, Sendable, Equatable {
        case coordinatorMoved(KafkaErrorCode)
        case fenced
        case unknownMember(KafkaErrorCode)
        case broker(KafkaErrorCode)
    }

    /// What an answer leads to: actions to carry out, in order, and possibly a failure (after them).
    struct Outcome: Sendable, Equatable {
        var actions: [Action] = []
        var failure: Failure?
    }

    let rebalanceProtocol: RebalanceProtocol
    /// `group.instance.id`: a static member keeps its id when it leaves.
    let groupInstanceId: String?

    private(set) var memberId = ""
    private(set) var generationId: Int32 = -1
    private(set) var protocolName: String?
    /// The partitions this member holds.
    private(set) var owned: Set<TopicPartition> = []
    private(set) var phase = Phase.none
    /// A JoinGroup round is needed (first join, the coordinator is rebalancing, the subscription changed, ...).
    var needsRejoin = true
    /// The member left because the application stopped asking for records (`max.poll.interval.ms`); it rejoins
    /// when the application asks again.
    private(set) var leftForInactivity = false
    /// The next early heartbeat's delay while a cooperative member waits with no partitions (see
    /// ``nextHeartbeatDelay(interval:)``); nil: heartbeats go at `heartbeat.interval.ms`.
    private var quickHeartbeat: TimeAmount?
    static let firstQuickHeartbeat = TimeAmount.milliseconds(50)

    init(rebalanceProtocol: RebalanceProtocol, groupInstanceId: String?) {
        self.rebalanceProtocol = rebalanceProtocol
        self.groupInstanceId = groupInstanceId
    }

    var isMember: Bool { generationId >= 0 && !memberId.isEmpty }

    /// Whether the membership loop should join now (it heartbeats otherwise).
    func shouldJoin(subscribed: Bool) -> Bool {
        subscribed && needsRejoin && !leftForInactivity
    }

    // MARK: - Joining

    /// A round starts: an eager member gives everything up first; a cooperative one keeps its partitions and
    /// names them in its subscription (`ownedForSubscription`).
    mutating func beginJoin() -> (actions: [Action], ownedForSubscription: [TopicPartition]) {
        if rebalanceProtocol == .eager && !owned.isEmpty {
            let given = owned
            owned = []
            return ([.revoke(given, .processed)], [])
        }
        return ([], rebalanceProtocol == .cooperative ? Array(owned) : [])
    }

    /// The JoinGroup is on its way (the coordinator may hold it for the whole rebalance).
    mutating func joinSent() {
        phase = .joining
    }

    /// What to do with a JoinGroup answer.
    enum JoinStep: Sendable, Equatable {
        /// KIP-394: the coordinator handed out an id; join again with it.
        case joinAgain(memberId: String)
        /// Joined: sync (as the leader, with the assignments this member computes).
        case sync(isLeader: Bool)
    }

    mutating func joinAnswered(_ code: KafkaErrorCode, memberId answeredId: String, generationId answeredGeneration: Int32,
                               leader: String, protocolName answeredProtocol: String?, skipAssignment: Bool)
        -> (step: JoinStep?, outcome: Outcome) {
        switch code {
        case .none:
            memberId = answeredId
            generationId = answeredGeneration
            protocolName = answeredProtocol
            phase = .syncing
            return (.sync(isLeader: leader == memberId && !skipAssignment), Outcome())
        case .memberIdRequired:
            memberId = answeredId
            return (.joinAgain(memberId: answeredId), Outcome())
        case .unknownMemberId:
            memberId = ""
            phase = .none
            return (nil, Outcome(actions: lose(), failure: .unknownMember(code)))
        case .notCoordinator, .coordinatorNotAvailable, .coordinatorLoadInProgress:
            phase = .none
            return (nil, Outcome(actions: [.findCoordinator], failure: .coordinatorMoved(code)))
        case .fencedInstanceId:
            phase = .none
            return (nil, Outcome(failure: .fenced))
        default:
            phase = .none
            return (nil, Outcome(failure: .broker(code)))
        }
    }

    /// What a SyncGroup answer changes. `assigned` is the decoded assignment (for `.none`).
    mutating func syncAnswered(_ code: KafkaErrorCode, assigned: Set<TopicPartition>, subscriptionChanged: Bool) -> Outcome {
        phase = .none
        switch code {
        case .none:
            // A subscribe() while joining changed what to join with: join again.
            needsRejoin = subscriptionChanged
            let actions = apply(assigned)
            quickHeartbeat = rebalanceProtocol == .cooperative && owned.isEmpty ? Self.firstQuickHeartbeat : nil
            return Outcome(actions: actions)
        case .rebalanceInProgress:
            needsRejoin = true
            return Outcome()
        case .unknownMemberId, .illegalGeneration:
            if code == .unknownMemberId { memberId = "" }
            return Outcome(actions: lose(), failure: .unknownMember(code))
        case .notCoordinator, .coordinatorNotAvailable:
            return Outcome(actions: [.findCoordinator], failure: .coordinatorMoved(code))
        case .fencedInstanceId:
            return Outcome(failure: .fenced)
        default:
            return Outcome(failure: .broker(code))
        }
    }

    /// A new assignment: cooperative members give up only what moved (then rejoin, KIP-429: the moved partitions go
    /// to their new owners in a follow-up rebalance) and take on what they gained.
    private mutating func apply(_ assigned: Set<TopicPartition>) -> [Action] {
        let revoked = owned.subtracting(assigned)
        let added = assigned.subtracting(owned)
        var actions: [Action] = []
        if !revoked.isEmpty {
            actions.append(.revoke(revoked, .processed))
            needsRejoin = true
        }
        owned = assigned
        actions.append(.take(added: added, assignment: assigned, announce: !added.isEmpty || revoked.isEmpty))
        return actions
    }

    /// The join round was abandoned (close() gave up on it, or it failed on the network).
    mutating func joinAbandoned() {
        phase = .none
    }

    // MARK: - Heartbeats and commits

    /// How long to wait before the next heartbeat: `interval` (`heartbeat.interval.ms`), except while a cooperative
    /// member is left with no partitions after a rebalance. Then it is most likely waiting for the follow-up round
    /// (KIP-429: what it will get is being revoked from the others, who rejoin at once), which it hears of from a
    /// heartbeat: it heartbeats after 50 ms, then twice as long each time up to `interval`, rather than a whole
    /// interval later. A new member scaling out a busy group would otherwise sit idle up to 3 s (as a Java member
    /// does); a member that stays without partitions sends a handful of extra heartbeats per rebalance.
    mutating func nextHeartbeatDelay(interval: TimeAmount) -> TimeAmount {
        guard let quick = quickHeartbeat, quick < interval, owned.isEmpty else {
            quickHeartbeat = nil
            return interval
        }
        quickHeartbeat = quick * 2
        return quick
    }

    mutating func heartbeatAnswered(_ code: KafkaErrorCode) -> Outcome {
        switch code {
        case .none:
            return Outcome()
        case .rebalanceInProgress:
            needsRejoin = true
            return Outcome()
        case .unknownMemberId:
            memberId = ""
            return Outcome(actions: lose())
        case .illegalGeneration:
            return Outcome(actions: lose())
        case .fencedInstanceId:
            return Outcome(failure: .fenced)
        case .notCoordinator, .coordinatorNotAvailable:
            return Outcome(actions: [.findCoordinator])
        default:
            return Outcome(failure: .broker(code))
        }
    }

    /// An OffsetCommit error that tells about the membership: a rebalance is under way, or the generation is gone.
    mutating func commitRefused(_ code: KafkaErrorCode) {
        if code == .rebalanceInProgress || code == .unknownMemberId || code == .illegalGeneration { needsRejoin = true }
    }

    // MARK: - Leaving

    /// The coordinator no longer knows this member: its partitions are lost, not revoked (no commit).
    mutating func lose() -> [Action] {
        let lost = owned
        owned = []
        generationId = -1
        needsRejoin = true
        return [.lose(lost)]
    }

    /// Leaves voluntarily: the partitions are revoked (committed first with auto-commit), then LeaveGroup. A static
    /// member keeps its id (a restart takes its place back without a rebalance).
    mutating func leave(committing: RevocationCommit) -> [Action] {
        var actions: [Action] = []
        if !owned.isEmpty { actions.append(.revoke(owned, committing)) }
        owned = []
        generationId = -1
        needsRejoin = true
        if !memberId.isEmpty {
            actions.append(.sendLeave(memberId: memberId))
            if groupInstanceId == nil { memberId = "" }
        }
        return actions
    }

    /// `max.poll.interval.ms` passed without the application asking for records: leave until it asks again.
    mutating func leaveForInactivity() -> [Action] {
        leftForInactivity = true
        return leave(committing: .processed)
    }

    /// The application asked for records: a member that left for inactivity rejoins. Returns whether it must.
    mutating func polled() -> Bool {
        guard leftForInactivity else { return false }
        leftForInactivity = false
        needsRejoin = true
        return true
    }

    /// `unsubscribe()`: no more rejoining.
    mutating func unsubscribed() -> [Action] {
        let actions = isMember || !owned.isEmpty ? leave(committing: .handedOut) : []
        needsRejoin = false
        generationId = -1
        return actions
    }

    /// Whether close() should send LeaveGroup: dynamic members that joined (or began to).
    var leavesOnClose: Bool { groupInstanceId == nil && (generationId >= 0 || !memberId.isEmpty) }
}
